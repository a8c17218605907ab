/**
 * CloudFront in front of everything public: the static site from its
 * bucket (origin access control, no public bucket), and `/blog/*` from the
 * API, cached exactly as long as the API's Cache-Control says.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface EdgeProps {
  readonly site: s3.IBucket;
  readonly logs: s3.IBucket;
  readonly api: cloudfront.IOrigin;
  /** The site's own name and its certificate (us-east-1). */
  readonly domain?: { name: string; certificate: acm.ICertificate };
}

export class Edge extends Construct {
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    // TTLs come from the origin's Cache-Control (s-maxage, max-age); nothing
    // the origin did not allow is cached.
    const originCacheControl = new cloudfront.CachePolicy(this, 'OriginCacheControl', {
      comment: 'Honour the API Cache-Control headers',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: Duration.days(1),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    this.distribution = new cloudfront.Distribution(this, 'Cdn', {
      comment: 'atrium: static site and blog',
      defaultRootObject: 'index.html',
      domainNames: props.domain ? [props.domain.name] : undefined,
      certificate: props.domain?.certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      enableLogging: true,
      logBucket: props.logs,
      logFilePrefix: 'cdn/',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(props.site),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      },
      additionalBehaviors: {
        '/blog/*': {
          origin: props.api,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          // GETs are cached; subscribing and unsubscribing pass through.
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
          cachePolicy: originCacheControl,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
        },
      },
    });
    acknowledge(this.distribution, 'CFR1', 'A public blog: no geographic restriction.');
    acknowledge(this.distribution, 'CFR2', 'WAF is a per-request cost the deployer adds when traffic warrants it.');
    if (!props.domain) {
      acknowledge(
        this.distribution,
        'CFR4',
        'The default *.cloudfront.net certificate allows TLS 1.0; context domain sets TLS 1.2.',
      );
    }
    acknowledge(this.distribution, 'CFR7', 'The S3 origin uses origin access control, which this rule predates.');
  }
}
