/**
 * Buckets: users' uploads (private; reached only through presigned URLs or
 * the identity pool's per-user role), the blog's static site (reached only
 * through CloudFront), and the access logs of both.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface StorageProps {
  readonly production: boolean;
  /** Origins allowed to PUT and GET uploads from a browser. */
  readonly corsOrigins: string[];
}

export class Storage extends Construct {
  readonly uploads: s3.Bucket;
  readonly site: s3.Bucket;
  readonly logs: s3.Bucket;

  constructor(scope: Construct, id: string, props: StorageProps) {
    super(scope, id);
    const lifetime = {
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !props.production,
    };
    const private_ = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      ...lifetime,
    };
    this.logs = new s3.Bucket(this, 'Logs', {
      ...private_,
      // CloudFront writes its logs with ACLs.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(90) }],
    });
    acknowledge(this.logs, 'S1', 'This is the access-log bucket; logging it into itself would loop.');
    this.uploads = new s3.Bucket(this, 'Uploads', {
      ...private_,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 'uploads/',
      cors: [
        {
          allowedMethods: [s3.HttpMethods.PUT, s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedOrigins: props.corsOrigins,
          allowedHeaders: ['content-type', 'content-length'],
          maxAge: 3600,
        },
      ],
      lifecycleRules: [{ abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    this.site = new s3.Bucket(this, 'Site', {
      ...private_,
      serverAccessLogsBucket: this.logs,
      serverAccessLogsPrefix: 'site/',
    });
  }
}
