"""CloudFormation's stack and change set statuses, as the explicit sets the engine waits
on (house rule 6: wait on explicit success and failure sets, never on "not in progress")."""

# A stack is "settled" in any status that is not *_IN_PROGRESS; REVIEW_IN_PROGRESS counts
# as settled: nothing runs, it only waits for a change set to be executed.
SETTLED = frozenset(
    {
        "CREATE_COMPLETE",
        "CREATE_FAILED",
        "ROLLBACK_COMPLETE",
        "ROLLBACK_FAILED",
        "DELETE_COMPLETE",
        "DELETE_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
        "IMPORT_ROLLBACK_FAILED",
        "REVIEW_IN_PROGRESS",
    }
)
CREATE_OK = frozenset({"CREATE_COMPLETE"})
CREATE_BAD = frozenset(
    {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED"}
)
UPDATE_OK = frozenset({"UPDATE_COMPLETE"})
UPDATE_BAD = frozenset({"UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"})
DELETE_OK = frozenset({"DELETE_COMPLETE"})
# botocore's StackDeleteComplete waiter (waiters-2 model) fails on each of these: a stack
# that is back in one of them is not being deleted any more.
DELETE_BAD = frozenset(
    {
        "DELETE_FAILED",
        "CREATE_FAILED",
        "ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_COMPLETE",
    }
)
RECOVER_OK = frozenset({"UPDATE_ROLLBACK_COMPLETE"})
RECOVER_BAD = frozenset({"UPDATE_ROLLBACK_FAILED"})
CHANGE_SET_OK = frozenset({"CREATE_COMPLETE"})
CHANGE_SET_BAD = frozenset({"FAILED", "DELETE_COMPLETE", "DELETE_FAILED"})
# Stacks that can only be deleted (or, for UPDATE_ROLLBACK_FAILED, recovered) by a human.
STUCK = frozenset(
    {"UPDATE_ROLLBACK_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED", "IMPORT_ROLLBACK_FAILED"}
)
