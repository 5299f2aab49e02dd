from tongpin.counselling.app import create_app
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.serve import serve


def main() -> None:
    serve(create_app, CounsellingSettings())


if __name__ == "__main__":
    main()
