/**
 * CloudFront in front of everything public: the static site from its
 * bucket (origin access control, no public bucket), and `/blog/*` from the
 * API, cached exactly as long as the API's Cache-Control says.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as iam from 'aws-cdk-lib/aws-iam';
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
        // TTLs come from the objects' Cache-Control, as the generator sets it.
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        functionAssociations: [
          { function: directoryIndexes(this), eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
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
    // S3 answers a missing key with 403 unless its reader may list the
    // bucket; with ListBucket a missing page is a 404, which crawlers and
    // browsers take as gone. The body stays S3's: CloudFront's error pages
    // are distribution-wide and would replace the API's problem+json 404s
    // under /blog/*. No listing can be asked for: the viewer-request
    // function sends `/` to index.html, and no query string reaches S3.
    props.site.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontAnswers404',
        actions: ['s3:ListBucket'],
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        resources: [props.site.bucketArn],
        conditions: { StringEquals: { 'AWS:SourceArn': this.distribution.distributionArn } },
      }),
    );
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

/**
 * A post's page is `posts/{slug}/index.html`; S3 behind origin access
 * control knows no directory indexes, so a path ending in `/` asks for its
 * `index.html`, and a path without an extension is sent to the slash.
 */
function directoryIndexes(scope: Construct): cloudfront.Function {
  return new cloudfront.Function(scope, 'DirectoryIndexes', {
    runtime: cloudfront.FunctionRuntime.JS_2_0,
    comment: 'posts/hello/ -> posts/hello/index.html',
    code: cloudfront.FunctionCode.fromInline(`
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.endsWith('/')) {
    request.uri = uri + 'index.html';
    return request;
  }
  var last = uri.substring(uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) {
    return { statusCode: 301, statusDescription: 'Moved Permanently', headers: { location: { value: uri + '/' } } };
  }
  return request;
}`),
  });
}
