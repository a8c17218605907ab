/**
 * API Gateway in front of the Lambda API (context `front=apigateway`): a REST
 * API whose one stage proxies every route to the function's alias `live`.
 *
 * What it adds to what the service already does:
 * - a Cognito user-pool authorizer on the authenticated routes, a first gate
 *   that turns away requests without a valid access token before they cost an
 *   invocation (the service still verifies every token itself);
 * - stage throttling, for every caller together, before Lambda is invoked
 *   (the service's own throttle is per instance and per caller);
 * - a stage cache for the public blog GETs, keyed by path, query and
 *   `Accept-Encoding` (the service may answer gzip);
 * - JSON access logs, and API Gateway's own refusals as problem+json;
 * - a usage plan, and with `apiKey=true` an API key the authenticated routes
 *   then require, for server-to-server clients.
 *
 * The public routes carry no authorizer: the blog's reads, subscribing and
 * unsubscribing, the health checks and the OpenAPI document, and every CORS
 * preflight.
 */
import { Duration } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface GatewayProps {
  readonly live: lambda.IFunction;
  readonly userPool: cognito.IUserPool;
  readonly stageName: string;
  /** Requests per second and burst, for all callers of the stage together. */
  readonly rateLimit: number;
  readonly burstLimit: number;
  /** How long the stage cache keeps a public blog answer. */
  readonly blogCacheTtl: Duration;
  /** Create an API key and require it on the authenticated routes. */
  readonly apiKey: boolean;
  /** Origins that may call from a browser (`*` for any). */
  readonly corsOrigins: string[];
}

/** The scope every Cognito access token carries: the authorizer then accepts
 *  access tokens, which is what the service checks (`APP_TOKEN_USE=access`). */
const ACCESS_TOKEN_SCOPE = 'aws.cognito.signin.user.admin';

/** The public blog GETs are cached by these request parts. */
const BLOG_CACHE_KEY = [
  'method.request.path.proxy',
  'method.request.querystring.limit',
  'method.request.querystring.cursor',
  'method.request.header.Accept-Encoding',
];

export class Gateway extends Construct {
  readonly api: apigateway.RestApi;
  readonly usagePlan: apigateway.UsagePlan;

  constructor(scope: Construct, id: string, props: GatewayProps) {
    super(scope, id);
    // A method's own settings replace the stage's, so the cached GET repeats them.
    const everyMethod = {
      throttlingRateLimit: props.rateLimit,
      throttlingBurstLimit: props.burstLimit,
      loggingLevel: apigateway.MethodLoggingLevel.ERROR,
      // Bodies stay out of the logs: they hold users' data.
      dataTraceEnabled: false,
      metricsEnabled: true,
    };
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logs.RetentionDays.ONE_MONTH });
    this.api = new apigateway.RestApi(this, 'Api', {
      description: 'atrium: todos, blog and uploads',
      endpointTypes: [apigateway.EndpointType.REGIONAL],
      cloudWatchRole: true,
      // The service may answer gzip; API Gateway passes bodies through as bytes.
      binaryMediaTypes: ['*/*'],
      deployOptions: {
        stageName: props.stageName,
        ...everyMethod,
        accessLogDestination: new apigateway.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigateway.AccessLogFormat.jsonWithStandardFields(),
        cacheClusterEnabled: true,
        cacheClusterSize: '0.5',
        methodOptions: {
          '/blog/{proxy+}/GET': {
            ...everyMethod,
            cachingEnabled: true,
            cacheTtl: props.blogCacheTtl,
            cacheDataEncrypted: true,
          },
        },
      },
    });
    this.routes(props);
    this.problemResponses(props.corsOrigins);
    this.usagePlan = this.api.addUsagePlan('Plan', {
      description: 'Stage throttling; server-to-server keys join it',
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      apiStages: [{ stage: this.api.deploymentStage }],
    });
    if (props.apiKey) {
      this.usagePlan.addApiKey(this.api.addApiKey('ServerKey', { description: 'server-to-server clients' }));
    }
    this.acknowledgeFindings();
  }

  /** Every route to the alias; the authorizer on the authenticated ones only. */
  private routes(props: GatewayProps) {
    const proxy = new apigateway.LambdaIntegration(props.live, { allowTestInvoke: false });
    const cachedProxy = new apigateway.LambdaIntegration(props.live, {
      allowTestInvoke: false,
      cacheKeyParameters: BLOG_CACHE_KEY,
    });
    const authorizer = new apigateway.CognitoUserPoolsAuthorizer(this, 'Users', {
      cognitoUserPools: [props.userPool],
      resultsCacheTtl: Duration.minutes(5),
    });
    const signedIn: apigateway.MethodOptions = {
      authorizer,
      authorizationType: apigateway.AuthorizationType.COGNITO,
      authorizationScopes: [ACCESS_TOKEN_SCOPE],
      apiKeyRequired: props.apiKey,
    };
    const open: apigateway.MethodOptions = { authorizationType: apigateway.AuthorizationType.NONE };
    const root = this.api.root;

    // Everything not named below: todos, uploads, /me. Preflights are open.
    const any = root.addResource('{proxy+}');
    any.addMethod('ANY', proxy, signedIn);
    any.addMethod('OPTIONS', proxy, open);
    for (const path of ['healthz', 'readyz', 'openapi.json']) {
      root.addResource(path).addMethod('GET', proxy, open);
    }

    const blog = root.addResource('blog').addResource('{proxy+}');
    blog.addMethod('GET', cachedProxy, {
      ...open,
      requestParameters: Object.fromEntries(BLOG_CACHE_KEY.map((name) => [name, false])),
    });
    for (const method of ['HEAD', 'OPTIONS']) blog.addMethod(method, proxy, open);
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) blog.addMethod(method, proxy, signedIn);

    // Subscribing and the links in the mail need no account.
    const subscribers = root.getResource('blog')!.addResource('subscribers');
    subscribers.addMethod('ANY', proxy, open);
    subscribers.addResource('{proxy+}').addMethod('ANY', proxy, open);
  }

  /** API Gateway's own refusals in the service's format, RFC 9457. */
  private problemResponses(corsOrigins: string[]) {
    const headers: Record<string, string> = { 'Content-Type': "'application/problem+json'" };
    if (corsOrigins.includes('*')) headers['Access-Control-Allow-Origin'] = "'*'";
    const refusals: [string, apigateway.ResponseType, string?, string?][] = [
      ['Unauthorized', apigateway.ResponseType.UNAUTHORIZED, '401', 'Unauthorized'],
      ['Denied', apigateway.ResponseType.ACCESS_DENIED, '403', 'Forbidden'],
      // What API Gateway answers for a path no resource matches.
      ['NoRoute', apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN, '404', 'Not Found'],
      ['Throttled', apigateway.ResponseType.THROTTLED, '429', 'Too Many Requests'],
      ['Quota', apigateway.ResponseType.QUOTA_EXCEEDED, '429', 'Too Many Requests'],
      // The rest keep their status; the title is API Gateway's message.
      ['Client', apigateway.ResponseType.DEFAULT_4XX],
      ['Server', apigateway.ResponseType.DEFAULT_5XX],
    ];
    for (const [id, type, statusCode, title] of refusals) {
      const problem = statusCode
        ? `{"type":"about:blank","title":"${title}","status":${statusCode},"detail":$context.error.messageString}`
        : '{"type":"about:blank","title":$context.error.messageString,"code":"$context.error.responseType"}';
      this.api.addGatewayResponse(id, {
        type,
        statusCode,
        responseHeaders: statusCode === '401' ? { ...headers, 'WWW-Authenticate': "'Bearer'" } : headers,
        templates: { 'application/json': problem },
      });
    }
  }

  private acknowledgeFindings() {
    acknowledge(this.api, 'APIG2', 'The service validates every request itself and answers problem+json.');
    acknowledge(this.api, 'APIG3', 'WAF is a per-request cost the deployer adds when traffic warrants it.');
    acknowledge(this.api, 'APIG4', 'Public routes (blog reads, subscribing, health, preflights) need no account.');
    acknowledge(this.api, 'COG4', 'Public routes (blog reads, subscribing, health, preflights) need no account.');
    acknowledge(
      this.api,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      "API Gateway's account-wide logging role uses the managed policy made for it.",
    );
  }

  /** 5xx answers and all requests of the stage. */
  serverErrors() {
    return this.api.metricServerError({ statistic: 'Sum', period: Duration.minutes(5) });
  }

  requests() {
    return this.api.metricCount({ statistic: 'Sum', period: Duration.minutes(5) });
  }
}
