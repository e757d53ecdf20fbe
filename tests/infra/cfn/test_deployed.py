"""infra/cfn/deployed.py: deciding, without a change set, that a stack is already deployed."""

from __future__ import annotations

import json

from infra.cfn.deployed import parameter_defaults, same_parameters, same_tags, same_template

TEMPLATE = """\
Parameters:
  VpcId:
    Type: AWS::EC2::VPC::Id
  MultiAz:
    Type: String
    Default: true
  Port:
    Type: Number
    Default: 5432
  Subnets:
    Type: CommaDelimitedList
    Default: a,b
Conditions:
  IsProd: !Equals [!Ref MultiAz, "true"]
Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      VpcId: !Ref VpcId
      GroupDescription: !Sub "db ${AWS::StackName}"
"""


def stack(**parameters) -> dict:
    return {
        "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        "Tags": [{"Key": "environment", "Value": "prod"}],
    }


def test_defaults_read_as_the_strings_describe_stacks_reports_despite_short_form_tags():
    assert parameter_defaults(TEMPLATE) == {"MultiAz": "true", "Port": "5432", "Subnets": "a,b"}
    assert parameter_defaults("Parameters: [unclosed") == {}


def test_parameters_match_only_when_given_and_default_values_are_as_deployed():
    deployed = stack(VpcId="vpc-1", MultiAz="true", Port="5432", Subnets="a,b")
    assert same_parameters(deployed, TEMPLATE, {"VpcId": "vpc-1"})
    assert not same_parameters(deployed, TEMPLATE, {"VpcId": "vpc-2"})
    assert not same_parameters(deployed, TEMPLATE.replace("5432", "5433"), {"VpcId": "vpc-1"})
    secret = stack(VpcId="****", MultiAz="true", Port="5432", Subnets="a,b")  # NoEcho
    assert not same_parameters(secret, TEMPLATE, {"VpcId": "vpc-1"})


def test_tags_must_match_exactly():
    assert same_tags(stack(), {"environment": "prod"})
    assert not same_tags(stack(), {"environment": "prod", "git-commit": "abc"})


def test_templates_compare_as_text_or_as_json_when_botocore_decoded_them():
    assert same_template(TEMPLATE, TEMPLATE)
    assert not same_template(TEMPLATE, TEMPLATE + "\n")
    body = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})
    assert same_template(json.loads(body), body)
    assert not same_template(json.loads(body), TEMPLATE)
