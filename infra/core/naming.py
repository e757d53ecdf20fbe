"""Names in one place: stacks, the outputs that flow between them, tags.

Convention: a stack that needs another stack's output declares a CloudFormation
Parameter with the same name as that output (e.g. the database stack has a
`PrivateSubnetIds` parameter fed from the network stack's `PrivateSubnetIds` output).
The deploy engine wires them by name (see infra/stacks/graph.py); no Exports.
"""

MANAGED_BY = "gifstack"

# Stack keys: the short names used on the command line (`--only database,cluster`).
NETWORK = "network"
DATABASE = "database"
CLUSTER = "cluster"
WORKLOAD = "workload"
REGISTRY = "registry"
CI = "ci"
RUNNER = "runner"  # the in-VPC GitHub Actions runner (CodeBuild) of an environment

# Which stacks are per environment or account-wide, what each needs and produces: the one
# table in infra/stacks/specs.py.


class Outputs:
    """Output keys of every stack (and so the parameter names of the stacks that use them)."""

    # network
    VPC_ID = "VpcId"
    PUBLIC_SUBNET_IDS = "PublicSubnetIds"  # comma-separated
    PRIVATE_SUBNET_IDS = "PrivateSubnetIds"  # comma-separated
    DATABASE_SUBNET_CIDRS = "DatabaseSubnetCidrs"  # comma-separated: PostgreSQL egress peers
    APP_SECURITY_GROUP_ID = "AppSecurityGroupId"  # nodes/pods that may reach the database
    DATABASE_SECURITY_GROUP_ID = "DatabaseSecurityGroupId"  # admits only the app group

    # database
    DATABASE_ENDPOINT = "DatabaseEndpoint"
    DATABASE_PORT = "DatabasePort"
    DATABASE_NAME = "DatabaseName"
    DATABASE_INSTANCE_ID = "DatabaseInstanceId"
    DATABASE_RESOURCE_ID = "DatabaseResourceId"  # DbiResourceId, for rds-db:connect ARNs
    DATABASE_MASTER_SECRET_ARN = "DatabaseMasterSecretArn"  # the ARN only, never the value
    DATABASE_KMS_KEY_ARN = "DatabaseKmsKeyArn"  # encrypts storage and the master secret

    # cluster
    CLUSTER_NAME = "ClusterName"
    CLUSTER_ENDPOINT = "ClusterEndpoint"
    CLUSTER_CERTIFICATE_AUTHORITY = "ClusterCertificateAuthority"
    CLUSTER_OIDC_PROVIDER_ARN = "ClusterOidcProviderArn"
    NODE_ROLE_ARN = "NodeRoleArn"
    # EKS's own group: on the API endpoint's network interfaces and the nodes
    CLUSTER_SECURITY_GROUP_ID = "ClusterSecurityGroupId"

    # workload
    APP_ROLE_ARN = "AppRoleArn"
    MIGRATE_ROLE_ARN = "MigrateRoleArn"

    # registry
    REPOSITORY_URI = "RepositoryUri"
    REPOSITORY_NAME = "RepositoryName"
    REPOSITORY_ARN = "RepositoryArn"

    # ci
    DEPLOY_ROLE_ARN = "DeployRoleArn"  # the deploy job's role (GitHub environment only)
    EXECUTION_ROLE_ARN = "ExecutionRoleArn"  # CloudFormation's role: RoleARN of env stacks
    IMAGE_ROLE_ARN = "ImageRoleArn"  # the image job's role (push to ECR, default branch)

    # runner
    RUNNER_PROJECT_NAME = "RunnerProjectName"  # the CodeBuild project: runs-on codebuild-<it>-...
    RUNNER_SECURITY_GROUP_ID = "RunnerSecurityGroupId"  # admitted by the cluster on 443
    RUNNER_ROLE_ARN = "RunnerRoleArn"  # the CodeBuild service role (logs, ENIs, the connection)


# Kubernetes names (the manifests in k8s/ use the same ones).
K8S_NAMESPACE = "gif"
APP_SERVICE_ACCOUNT = "gif-app"
MIGRATE_SERVICE_ACCOUNT = "gif-migrate"

# Tags on every taggable resource (and on the stacks themselves).
TAG_PROJECT = "project"
TAG_ENVIRONMENT = "environment"
TAG_MANAGED_BY = "managed-by"
SHARED_ENVIRONMENT = "shared"  # the environment tag of the account-wide stacks

# Parameters that are not another stack's output.
DEPLOYER_PRINCIPAL_ARN = "DeployerPrincipalArn"  # cluster stack: who gets the access entry


def cluster_name(project: str, env: str) -> str:
    """The EKS cluster's name, `gif-prod` (also in its log group's name)."""
    return f"{project}-{env}"


def db_instance_id(project: str, env: str) -> str:
    """The RDS instance identifier, `gif-prod` (also in its log groups' names)."""
    return f"{project}-{env}"


# The deploy workflow's `name:` (.github/workflows/deploy.yml): the runner's webhook starts
# builds for its queued jobs only.
DEPLOY_WORKFLOW = "deploy"
RUNNER_ROLE = "runner"  # gif-<env>-runner: the runner's CodeBuild service role


def runner_project(project: str, env: str) -> str:
    """The runner's CodeBuild project, `gif-prod-runner`: the deploy workflow's Kubernetes job
    runs on `codebuild-gif-prod-runner-<run id>-<attempt>` (AWS CodeBuild User Guide,
    action-runner.html: the label names the project)."""
    return f"{project}-{env}-runner"


def runner_log_group(project: str, env: str) -> str:
    """`/gif/prod/codebuild-runner`: under the project's log groups (the boundary's
    WriteProjectLogGroups)."""
    return f"/{project}/{env}/codebuild-runner"


def boundary_policy_name(project: str) -> str:
    """`gif-workload-boundary`: the customer managed policy (in the ci stack) that is the
    permissions boundary of every role the environment stacks create. A fixed name, so the
    env stacks can build its ARN from the account ID without a cross-stack parameter."""
    return f"{project}-workload-boundary"


# The gif-ci stack's roles (all `gif-ci-*`: the env stacks' roles are `gif-<env>-*`).
DEPLOY_ROLE = "ci-deploy"  # GitHub's deploy job: change sets, PassRole of the execution role
EXECUTION_ROLE = "ci-cloudformation"  # CloudFormation provisions the env stacks with it
IMAGE_ROLE = "ci-image"  # GitHub's image job: push to the ECR repository, nothing else


def ci_role_name(project: str, role: str) -> str:
    """`gif-ci-deploy`, `gif-ci-cloudformation`, `gif-ci-image` (role is one of the above)."""
    return role_name(project, None, role)


def role_name(project: str, env: str | None, purpose: str) -> str:
    """IAM role names all start with the project (`gif-prod-app`, `gif-ci-deploy`), so the CI
    deploy role's iam:PassRole can be limited to this project's roles."""
    return f"{project}-{env}-{purpose}" if env else f"{project}-{purpose}"
