"""The pipeline's artifact bucket: KMS-encrypted, versioned, private, TLS only, expiring."""

from __future__ import annotations

from typing import Any

from awacs.aws import Action, Bool, Condition, Deny, Principal, Statement
from troposphere import GetAtt, Join, Ref, Template, s3

from stacks.common.iam import document
from stacks.common.template import retain, skip_checks
from stacks.pipeline.settings import Settings


def artifact_bucket(template: Template, settings: Settings, key: Any) -> s3.Bucket:
    """The bucket CodePipeline passes artifacts through, and its TLS-only policy."""
    days = settings.artifact_retention_days
    bucket = template.add_resource(
        s3.Bucket(
            "ArtifactBucket",
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key, "Arn")
                        ),
                        # Fewer KMS calls (and costs) per object.
                        BucketKeyEnabled=True,
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
                        Id="expire-artifacts",
                        Status="Enabled",
                        ExpirationInDays=days,
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(
                            NoncurrentDays=days
                        ),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=1
                        ),
                    )
                ]
            ),
        )
    )
    retain(bucket, settings.retain)
    skip_checks(
        bucket,
        {
            "CKV_AWS_18": "transient pipeline artifacts; access is audited by CloudTrail, a "
            "second log bucket would itself need logging",
        },
    )
    template.add_resource(
        s3.BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=document(
                [
                    Statement(
                        Sid="TlsOnly",
                        Effect=Deny,
                        Principal=Principal("*"),
                        # A Deny may be broad: every S3 call without TLS is refused.
                        Action=[Action("s3", "*")],
                        Resource=[GetAtt(bucket, "Arn"), Join("", [GetAtt(bucket, "Arn"), "/*"])],
                        Condition=Condition(Bool("aws:SecureTransport", "false")),
                    )
                ]
            ),
        )
    )
    return bucket
