from tongpin.intake.app import create_app
from tongpin.intake.settings import IntakeSettings
from tongpin.shared.serve import serve


def main() -> None:
    serve(create_app, IntakeSettings())


if __name__ == "__main__":
    main()
