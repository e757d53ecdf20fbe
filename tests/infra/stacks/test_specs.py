"""infra/stacks/specs.py: the one table of stacks agrees with what each builder really builds."""

from __future__ import annotations

import pytest

from infra.core import naming
from infra.orchestration import wiring
from infra.settings import params
from infra.stacks import specs, synth

ENVS = params.environments()
CASES = [(env, key) for env in ENVS for key in specs.ENV_STACKS] + [
    (synth.SHARED_SETTINGS_ENV, key) for key in specs.SHARED_STACKS
]


@pytest.fixture(scope="module")
def templates() -> dict[tuple[str, str], dict]:
    return {
        (env, key): wiring.template_dict(synth.build_text(key, params.load(env)))
        for env, key in CASES
    }


@pytest.mark.parametrize(("env", "key"), CASES)
def test_each_template_outputs_exactly_what_its_spec_says(templates, env, key):
    outputs = set((templates[(env, key)].get("Outputs") or {}).keys())
    assert outputs == set(specs.SPECS[key].produces)


@pytest.mark.parametrize(("env", "key"), CASES)
def test_wired_parameters_come_from_the_stacks_the_spec_needs_and_each_need_is_used(
    templates, env, key
):
    names = wiring.parameter_names(templates[(env, key)])
    wired = {name: specs.PRODUCER[name] for name in names if name in specs.PRODUCER}
    assert set(wired.values()) == set(specs.SPECS[key].needs)


def test_the_table_has_every_stack_key_and_no_other():
    keys = {naming.NETWORK, naming.DATABASE, naming.CLUSTER, naming.WORKLOAD, naming.RUNNER}
    keys |= {naming.REGISTRY, naming.CI}
    assert set(specs.SPECS) == keys
    assert specs.ENV_STACKS == ("network", "database", "cluster", "workload", "runner")
    assert specs.SHARED_STACKS == ("registry", "ci")


def test_every_output_has_one_producer():
    produced = [out for spec in specs.SPECS.values() for out in spec.produces]
    assert len(produced) == len(set(produced)) == len(specs.PRODUCER)


def test_stack_names_per_env_and_shared():
    assert specs.stack_name("gif", "prod", naming.DATABASE) == "gif-prod-database"
    assert specs.stack_name("gif", "prod", naming.CI) == "gif-ci"


def test_cluster_workload_and_runner_are_left_out_of_the_local_plan_with_a_reason():
    skipped = specs.not_emulated(specs.ENV_STACKS)
    assert list(skipped) == [naming.CLUSTER, naming.WORKLOAD, naming.RUNNER]
    assert "EKS" in skipped[naming.CLUSTER]
    assert "EKS" in skipped[naming.WORKLOAD]
    assert "CodeBuild" in skipped[naming.RUNNER]


def test_producers_in_table_order():
    outs = [naming.Outputs.REPOSITORY_URI, naming.Outputs.DATABASE_PORT, naming.Outputs.VPC_ID]
    assert specs.producers(outs) == (naming.NETWORK, naming.DATABASE, naming.REGISTRY)


def test_a_timeout_override_keeps_the_other_stacks_defaults():
    dev = params.load("dev")
    deploy = dev.deploy.model_copy(update={"stack_timeout_minutes": {naming.NETWORK: 5}})
    settings = dev.model_copy(update={"deploy": deploy})
    bodies = synth.render(settings)
    timeouts = {
        key: wiring.build_request(
            settings, key, bodies[key], {}, deployer_principal_arn="x"
        ).timeout_minutes
        for key in (naming.NETWORK, naming.REGISTRY)
    }
    assert timeouts == {naming.NETWORK: 5, naming.REGISTRY: 10}


def test_default_timeouts_are_the_long_ones_for_rds_and_eks():
    timeouts = {key: spec.timeout_minutes for key, spec in specs.SPECS.items()}
    assert timeouts == {
        "network": 20,
        "database": 60,  # an RDS instance (Multi-AZ) takes 10-40 minutes
        "cluster": 60,  # the EKS control plane 10-15 minutes, then the node group
        "workload": 15,
        "runner": 15,
        "registry": 10,
        "ci": 10,
    }
