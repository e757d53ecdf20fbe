"""infra/stacks/template_yaml.py: short intrinsic tags, read back by cfn-lint's own YAML loader."""

from __future__ import annotations

from cfnlint.decode.cfn_yaml import loads

from infra.stacks import template_yaml as cfn_yaml

TEMPLATE = {
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
    "Resources": {
        "Subnet": {
            "Type": "AWS::EC2::Subnet",
            "Condition": "IsProd",
            "Properties": {
                "AvailabilityZone": {"Fn::Select": [0, {"Fn::GetAZs": ""}]},
                "VpcId": {"Fn::GetAtt": ["Vpc", "VpcId"]},
                "Tags": [{"Key": "Name", "Value": {"Fn::Sub": "${AWS::StackName}-a"}}],
            },
        },
    },
}


def test_short_tags_and_back():
    text = cfn_yaml.dump(TEMPLATE)
    assert "!GetAtt Vpc.VpcId" in text
    assert "!GetAZs ''" in text  # an empty scalar stays an explicit empty string
    assert "Condition: IsProd" in text  # a resource attribute, not the Condition function
    assert "&" not in text and "*id" not in text  # no YAML anchors or aliases
    assert loads(text) == TEMPLATE


def test_shared_values_are_written_out_each_time():
    tags = [{"Key": "project", "Value": "gif"}]
    text = cfn_yaml.dump({"Resources": {"A": {"Tags": tags}, "B": {"Tags": tags}}})
    assert text.count("Value: gif") == 2


def test_load_reads_short_tags_as_plain_values_and_text_keeps_scalars_strings():
    body = (
        "Parameters:\n  Flag:\n    Type: String\n    Default: true\n"
        "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
        "    Properties:\n      BucketName: !Sub '${AWS::StackName}-x'\n"
        "      Tags: !If [IsProd, [1], []]\n"
    )
    data = cfn_yaml.load(body)
    assert data["Parameters"]["Flag"]["Default"] is True
    assert data["Resources"]["Bucket"]["Properties"]["BucketName"] == "${AWS::StackName}-x"
    assert data["Resources"]["Bucket"]["Properties"]["Tags"] == ["IsProd", [1], []]
    text = cfn_yaml.load(body, text=True)
    assert text["Parameters"]["Flag"]["Default"] == "true"
    assert text["Resources"]["Bucket"]["Properties"]["Tags"] == ["IsProd", ["1"], []]
