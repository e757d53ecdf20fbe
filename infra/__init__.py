"""gifstack: the deploy engine and the CloudFormation template builders."""
