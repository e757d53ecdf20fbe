"""The stack engine: one CloudFormation stack through a change set."""
