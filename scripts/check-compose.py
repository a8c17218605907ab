"""Checks docker/compose.yaml without a Docker engine: it parses, every
reference points at something that exists, and the service is wired to the
emulators the way the README says.

    python scripts/check-compose.py docker/compose.yaml
"""

import sys

import yaml


def fail(message):
    sys.exit(f"compose check failed: {message}")


def main(path):
    with open(path) as file:
        compose = yaml.safe_load(file)
    services = compose.get("services") or fail("no services")
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            fail(f"{name} has neither image nor build")
        for needed, how in (service.get("depends_on") or {}).items():
            if needed not in services:
                fail(f"{name} depends on unknown service {needed}")
            if how.get("condition") not in (
                "service_started",
                "service_healthy",
                "service_completed_successfully",
            ):
                fail(f"{name}: unknown condition {how.get('condition')}")
            if how["condition"] == "service_healthy" and "healthcheck" not in services[needed]:
                fail(f"{name} waits for {needed} to be healthy, which has no healthcheck")
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0]
            if not source.startswith((".", "/")) and source not in (compose.get("volumes") or {}):
                fail(f"{name} mounts undeclared volume {source}")

    atrium = services.get("atrium") or fail("no atrium service")
    if atrium["build"]["dockerfile"] != "Dockerfile" or atrium["build"]["context"] != "..":
        fail("atrium is not built from the repository's Dockerfile")
    env = atrium["environment"]
    expected = {"APP_STORE": "dynamodb", "AWS_ENDPOINT_URL": "http://moto:5000"}
    for key, value in expected.items():
        if env.get(key) != value:
            fail(f"atrium: {key} is {env.get(key)!r}, expected {value!r}")
    if "8080" not in " ".join(atrium.get("ports") or []):
        fail("atrium does not publish port 8080")
    if services["migrate"]["command"] != ["migrate"]:
        fail("migrate does not run `atrium migrate`")
    for needed in ("migrate", "setup"):
        if atrium["depends_on"][needed]["condition"] != "service_completed_successfully":
            fail(f"atrium starts before {needed} has finished")
    print(f"{path}: {len(services)} services, wiring checked")


if __name__ == "__main__":
    main(sys.argv[1])
