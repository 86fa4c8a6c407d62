"""detect-secrets over the release's configuration files: file and line named, the value never shown."""

from __future__ import annotations

import json

import pytest
from supply_chain_files import FAKE_AWS_KEY, ReleaseFiles

from launchdeck.errors import SupplyChainError
from launchdeck.plan.supply_model import SecretsSpec
from launchdeck.supply import secrets


def test_clean_configuration_passes(files: ReleaseFiles) -> None:
    detail, data = secrets.scan(SecretsSpec(files=["config/*.yaml"]), files.folder)
    assert detail == "secrets: none found in 2 file(s)"
    assert data["files"] == ["config/app.yaml", "config/flags.yaml"]


def test_a_planted_key_is_named_by_file_line_and_kind_and_its_value_appears_nowhere(files: ReleaseFiles) -> None:
    files.write_text("config/flags.yaml", f"canary:\n  enable: true\nupload:\n  aws_access_key_id: {FAKE_AWS_KEY}\n")
    with pytest.raises(SupplyChainError) as caught:
        secrets.scan(SecretsSpec(files=["config/*.yaml"]), files.folder)
    error = caught.value
    assert "1 secret(s) in the release's configuration: config/flags.yaml:4: AWS Access Key" in error.message
    assert error.data["findings"][0]["hashedSecret"]
    assert FAKE_AWS_KEY not in str(error) + json.dumps(error.data)


def test_a_listed_file_that_does_not_exist_is_refused(files: ReleaseFiles) -> None:
    with pytest.raises(SupplyChainError, match="config/missing.env matches no file"):
        secrets.scan(SecretsSpec(files=["config/*.yaml", "config/missing.env"]), files.folder)
