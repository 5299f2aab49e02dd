from tongpin.oversight.app import create_app
from tongpin.oversight.settings import OversightSettings
from tongpin.shared.serve import serve


def main() -> None:
    serve(create_app, OversightSettings())


if __name__ == "__main__":
    main()
