from tongpin.shared.serve import serve
from tongpin.triage.app import create_app
from tongpin.triage.settings import TriageSettings


def main() -> None:
    serve(create_app, TriageSettings())


if __name__ == "__main__":
    main()
