"""The ALB's access-log bucket: SSE-S3, private, TLS only, expiring, writable by ELB log delivery.

Rules from "Enable access logs for your Application Load Balancer"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html):
the bucket is in the load balancer's region, its only supported server-side encryption is SSE-S3
(no KMS key, so checkov's CMK check is skipped with that reason), and its policy lets the
region's Elastic Load Balancing account write under ``<prefix>/AWSLogs/<account>/``. Regions
opened before August 2022 (eu-north-1 among them) name that account by id; newer regions use the
``logdelivery.elasticloadbalancing.amazonaws.com`` service principal instead, which this stack
does not cover: a region missing from ``ELB_ACCOUNTS`` fails at deploy (``Fn::FindInMap``).
"""

from __future__ import annotations

from awacs.aws import Action, Allow, Bool, Condition, Deny, Principal, Statement
from troposphere import FindInMap, GetAtt, Join, Ref, Sub, Template, s3

from stacks.common.iam import action, document
from stacks.common.template import retain, skip_checks
from stacks.service.settings import AccessLogs

MAPPING = "ElbLogDeliveryAccount"
# The Elastic Load Balancing account of each region opened before August 2022 (the AWS page above).
ELB_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-southeast-3": "589379963580",
    "ap-south-1": "718504428378",
    "ap-northeast-3": "383597477331",
    "ap-northeast-2": "600734575887",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-northeast-1": "582318560864",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-south-1": "635631232127",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
}
NO_CMK_REASON = (
    "ALB access logs support only SSE-S3 (Amazon S3-managed keys), not KMS keys: "
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html"
)


def add_access_log_bucket(
    template: Template, logs: AccessLogs, prefix: str, *, keep: bool
) -> tuple[s3.Bucket, s3.BucketPolicy]:
    """The bucket and its policy; the ALB must depend on the policy (ELB checks it can write)."""
    template.add_mapping(
        MAPPING, {region: {"Account": account} for region, account in ELB_ACCOUNTS.items()}
    )
    bucket = template.add_resource(
        s3.Bucket(
            "AccessLogBucket",
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="AES256"
                        )
                    )
                ]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True,
                BlockPublicPolicy=True,
                IgnorePublicAcls=True,
                RestrictPublicBuckets=True,
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-access-logs",
                        Status="Enabled",
                        ExpirationInDays=logs.retention_days,
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=1
                        ),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=1
                        ),
                    )
                ]
            ),
        )
    )
    retain(bucket, keep)
    skip_checks(
        bucket,
        {
            "CKV_AWS_145": NO_CMK_REASON,
            "CKV_AWS_18": "this bucket holds access logs; logging its own access would need a "
            "second log bucket, and S3 data access is audited through CloudTrail",
        },
    )
    arn = GetAtt(bucket, "Arn")
    policy = template.add_resource(
        s3.BucketPolicy(
            "AccessLogBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=document(
                [
                    Statement(
                        Sid="ElbWritesAccessLogs",
                        Effect=Allow,
                        Principal=Principal(
                            "AWS",
                            [
                                Sub(
                                    "arn:${AWS::Partition}:iam::${Account}:root",
                                    Account=FindInMap(MAPPING, Ref("AWS::Region"), "Account"),
                                )
                            ],
                        ),
                        Action=[action("s3:PutObject")],
                        Resource=[
                            Join("", [arn, f"/{prefix}/AWSLogs/", Ref("AWS::AccountId"), "/*"])
                        ],
                    ),
                    Statement(
                        Sid="TlsOnly",
                        Effect=Deny,
                        Principal=Principal("*"),
                        # A Deny may be broad: every S3 call without TLS is refused.
                        Action=[Action("s3", "*")],
                        Resource=[arn, Join("", [arn, "/*"])],
                        Condition=Condition(Bool("aws:SecureTransport", "false")),
                    ),
                ]
            ),
        )
    )
    return bucket, policy
