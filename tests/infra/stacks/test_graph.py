"""infra/stacks/graph.py: order, wiring by name, parallel runs and failure propagation.

Concurrency is proven with barriers and events (a barrier only opens when both stacks are
running at once), not with sleeps and timings.
"""

import _thread
import threading
import time
from types import SimpleNamespace

import pytest

from infra.core import naming
from infra.core.naming import Outputs
from infra.stacks import graph, specs

ENV = list(specs.ENV_STACKS)


def test_run_order_puts_each_stack_after_what_it_needs():
    order = graph.run_order(specs.ALL_STACKS)
    assert sorted(order) == sorted(specs.ALL_STACKS)
    for key in order:
        for dep in graph.DEPENDS_ON[key]:
            assert order.index(dep) < order.index(key)


def test_waves_run_database_and_cluster_together_and_shared_stacks_first():
    # The runner (network + cluster) goes up beside the workload (database + cluster).
    assert graph.waves(ENV) == [["network"], ["database", "cluster"], ["workload", "runner"]]
    assert graph.waves(specs.ALL_STACKS)[0] == ["network", "registry", "ci"]


def test_a_subset_still_waits_for_selected_stacks_it_needs_through_others():
    # workload needs network through database/cluster: with only these two, still after it.
    assert graph.waves(["workload", "network"]) == [["network"], ["workload"]]


def test_inputs_are_wired_by_output_name_to_the_producing_stack():
    wired = graph.inputs(
        naming.WORKLOAD,
        [Outputs.DATABASE_RESOURCE_ID, Outputs.CLUSTER_NAME, Outputs.VPC_ID, "AppUserName"],
    )
    assert wired == {
        Outputs.DATABASE_RESOURCE_ID: naming.DATABASE,
        Outputs.CLUSTER_NAME: naming.CLUSTER,
        Outputs.VPC_ID: naming.NETWORK,  # upstream through database/cluster
    }


def test_inputs_refuse_a_parameter_from_a_stack_that_is_not_upstream():
    with pytest.raises(graph.GraphError, match="does not depend on 'cluster'"):
        graph.inputs(naming.DATABASE, [Outputs.CLUSTER_NAME])


def test_every_output_key_has_exactly_one_producer():
    declared = [value for name, value in vars(Outputs).items() if name.isupper()]
    assert sorted(declared) == sorted(graph.PRODUCER)


def test_reverse_dependencies_tear_down_dependents_first():
    reverse = graph.reverse_dependencies(ENV)
    assert reverse[naming.NETWORK] == ("cluster", "database", "runner", "workload")
    assert reverse[naming.CLUSTER] == ("runner", "workload")
    assert reverse[naming.WORKLOAD] == ()


def test_independent_stacks_run_at_the_same_time_and_dependents_wait():
    both_running = threading.Barrier(2, timeout=10)
    log: list[str] = []
    lock = threading.Lock()

    def work(key):
        with lock:
            log.append(f"start {key}")
        if key in (naming.DATABASE, naming.CLUSTER):
            both_running.wait()  # raises BrokenBarrierError unless both run at once
        with lock:
            log.append(f"end {key}")
        return SimpleNamespace(status="created")

    result = graph.run(ENV, work)

    assert result.ok, {k: o.error for k, o in result.outcomes.items()}
    assert log.index("end network") < log.index("start database")
    assert log.index("end network") < log.index("start cluster")
    assert log.index("start workload") > max(log.index("end database"), log.index("end cluster"))


def test_each_stack_s_start_and_duration_and_the_wall_time_are_measured():
    pause = 0.05

    def work(key):
        time.sleep(pause)
        return SimpleNamespace(status="created")

    result = graph.run(ENV, work)

    outcomes = result.outcomes
    end = {key: o.started_at + o.duration_s for key, o in outcomes.items()}
    assert all(pause <= o.duration_s < pause + 5 for o in outcomes.values()), outcomes
    assert 0 <= outcomes[naming.NETWORK].started_at < 5
    for key in (naming.DATABASE, naming.CLUSTER):  # after network, together
        assert outcomes[key].started_at >= end[naming.NETWORK]
    assert outcomes[naming.WORKLOAD].started_at >= max(end[naming.DATABASE], end[naming.CLUSTER])
    assert result.wall_s >= end[naming.WORKLOAD] >= 3 * pause
    assert result.wall_s < end[naming.WORKLOAD] + 5


def test_a_failure_blocks_dependents_while_independent_branches_finish():
    database_failed = threading.Event()

    def work(key):
        if key == naming.DATABASE:
            database_failed.set()
            raise RuntimeError("RDS said no")
        if key == naming.CLUSTER:
            # cluster is still running when its sibling fails, and is allowed to finish
            assert database_failed.wait(10)
        return SimpleNamespace(status="created")

    result = graph.run([*ENV, naming.REGISTRY], work)

    outcomes = result.outcomes
    assert not result.ok
    assert str(outcomes[naming.DATABASE].error) == "RDS said no"
    assert outcomes[naming.CLUSTER].ok
    assert outcomes[naming.REGISTRY].ok
    assert outcomes[naming.WORKLOAD].blocked_by == naming.DATABASE
    assert outcomes[naming.WORKLOAD].value is None  # never started


def test_a_result_with_status_failed_counts_as_a_failure():
    def work(key):
        return SimpleNamespace(status="failed" if key == naming.NETWORK else "created")

    result = graph.run(ENV, work)

    assert not result.outcomes[naming.NETWORK].ok
    blocked = {key: result.outcomes[key].blocked_by for key in ENV[1:]}
    assert blocked == {
        "database": "network",
        "cluster": "network",
        "workload": "network",
        "runner": "network",
    }


def test_teardown_runs_in_reverse_with_reverse_dependencies():
    order: list[str] = []
    lock = threading.Lock()

    def work(key):
        with lock:
            order.append(key)

    graph.run(ENV, work, depends_on=graph.reverse_dependencies(ENV), max_workers=1)

    assert order[0] == naming.WORKLOAD and order[-1] == naming.NETWORK


def test_on_done_reports_every_stack_including_blocked_ones():
    seen = []

    def work(key):
        raise RuntimeError("boom")

    graph.run(ENV, work, on_done=lambda outcome: seen.append(outcome.key))

    assert sorted(seen) == sorted(ENV)


def test_ctrl_c_ends_the_run_without_waiting_for_running_stacks():
    release = threading.Event()
    still_running = threading.Event()

    def work(key):
        if key == naming.NETWORK:
            still_running.set()
            _thread.interrupt_main()  # what Ctrl-C does to the main thread
            release.wait(30)  # a stack CloudFormation is still busy with

    with pytest.raises(KeyboardInterrupt):
        graph.run(ENV, work)

    # run() returned while the stack's thread was still inside work()
    assert still_running.is_set() and not release.is_set()
    release.set()
