"""CloudFormation's size limits for a template, as botocore's CloudFormation model documents
them for CreateChangeSet (`TemplateBody` and `TemplateURL`). AWS's current guide gives 1 MB
for a template in S3; the locked model's 460,800 bytes is the stricter of the two, so a
template within it is accepted everywhere."""

TEMPLATE_BODY_LIMIT = 51_200  # bytes sent in the request itself
TEMPLATE_URL_LIMIT = 460_800  # bytes of a template CloudFormation reads from S3
