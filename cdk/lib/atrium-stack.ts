/**
 * The whole deployment of atrium in one stack, in either compute shape
 * (and, on Lambda, either front). Everything the binary needs reaches it as
 * the same environment variables the README documents.
 */
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import { Construct } from 'constructs';
import { serviceStatements, siteStatements } from './access';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { EcsApi, EcsApiProps, Events, FunctionProps, LambdaApi, defaultBootstrapDir } from './compute';
import { Data } from './data';
import { Domain, DomainSettings, EdgeCertificate, apiName } from './domain';
import { Edge } from './edge';
import { Identity } from './identity';
import { Mail } from './mail';
import { Gateway } from './front';
import { Alarms } from './observability';
import { Release, canaryConfig } from './release';
import { Storage } from './storage';
import { acknowledge } from './nag';
import { serviceEnvironment } from './environment';

export type Compute = 'lambda' | 'ecs';
/** What fronts the Lambda API: its Function URL, or API Gateway. */
export type Front = 'url' | 'apigateway';

export interface GatewayOptions {
  readonly stageName: string;
  readonly rateLimit: number;
  readonly burstLimit: number;
  readonly blogCacheSeconds: number;
  readonly apiKey: boolean;
}

export interface AtriumProps extends StackProps {
  readonly compute: Compute;
  readonly front: Front;
  readonly gateway: GatewayOptions;
  /** How Lambda deploys shift traffic (`release.ts`). */
  readonly canary: string;
  readonly production: boolean;
  readonly backupDays: number;
  readonly existingTable?: { name: string; streamArn: string };
  readonly mailFrom: string;
  readonly sesIdentity?: string;
  readonly replicaRegions: string[];
  readonly corsOrigins: string[];
  /** Where `cargo lambda build` left `bootstrap`. */
  readonly bootstrapDir?: string;
  readonly domain?: DomainSettings;
  /** CloudFront's certificate, made in us-east-1 when the stack is elsewhere. */
  readonly edgeCertificate?: acm.ICertificate;
}

/** The API as the rest of the stack sees it, whatever runs it. */
interface ApiShape {
  readonly origin: cloudfront.IOrigin;
  readonly url: string;
  /** 5xx answers and all requests, to alarm on their ratio. */
  readonly serverErrors: cloudwatch.IMetric;
  readonly requests: cloudwatch.IMetric;
  /** The Lambda API's alias, for canary deploys and alarms. */
  readonly live?: lambda.Alias;
}

export class AtriumStack extends Stack {
  constructor(scope: Construct, id: string, props: AtriumProps) {
    super(scope, id, props);
    const data = new Data(this, 'Data', props);
    const storage = new Storage(this, 'Storage', props);
    const identity = new Identity(this, 'Identity', { ...props, uploads: storage.uploads });
    const mail = new Mail(this, 'Mail', { from: props.mailFrom, identity: props.sesIdentity });
    const domain = props.domain && new Domain(this, 'Domain', props.domain);

    const statements = serviceStatements({
      table: data.table,
      indexNames: data.definition.global_secondary_indexes.map((index) => index.name),
      uploads: storage.uploads,
      mailIdentityArn: mail.identityArn,
      mailConfigurationSetArn: mail.configurationSetArn,
    });
    const environment = serviceEnvironment({
      APP_STORE: 'dynamodb',
      APP_TABLE: data.table.tableName,
      APP_BUCKET: storage.uploads.bucketName,
      APP_SITE_BUCKET: storage.site.bucketName,
      APP_MAIL_FROM: mail.from,
      APP_COGNITO_USER_POOL_ID: identity.userPool.userPoolId,
      APP_COGNITO_CLIENT_IDS: identity.appClient.userPoolClientId,
      APP_LOG_FORMAT: 'json',
    });
    const bootstrapDir = props.bootstrapDir ?? defaultBootstrapDir();
    const shared = { environment, statements, uploads: storage.uploads };
    const api =
      props.compute === 'lambda'
        ? this.lambdaApi(props, { ...shared, bootstrapDir }, identity.userPool, domain)
        : this.ecsApi(shared, domain);

    const edge = new Edge(this, 'Edge', {
      site: storage.site,
      logs: storage.logs,
      api: api.origin,
      domain: domain && {
        name: domain.settings.name,
        certificate: props.edgeCertificate ?? new EdgeCertificate(this, 'EdgeCertificate', domain.settings).certificate,
      },
    });
    if (props.compute === 'ecs' && !domain) {
      acknowledge(
        edge.distribution,
        'CFR5',
        'Without a domain the ALB has no certificate, so CloudFront reaches it over HTTP; context domain adds HTTPS.',
      );
    }
    domain?.alias('Site', domain.settings.name, new targets.CloudFrontTarget(edge.distribution));
    const publicUrl = `https://${domain ? domain.settings.name : edge.distribution.distributionDomainName}`;
    const events = new Events(this, 'Events', {
      bootstrapDir,
      // Links in mail (unsubscribe) go through CloudFront's /blog/*.
      environment: serviceEnvironment({ ...environment, APP_PUBLIC_URL: publicUrl }),
      statements: [...statements, ...siteStatements(storage.site)],
      site: storage.site,
      table: data.table,
      uploads: storage.uploads,
    });

    const live: Record<string, lambda.Alias> = { Events: events.live };
    if (api.live) live.Http = api.live;
    const alarms = new Alarms(this, 'Alarms', {
      serverErrors: api.serverErrors,
      requests: api.requests,
      tableThrottles: data.throttles(),
      functionErrors: Object.fromEntries(Object.entries(live).map(([name, alias]) => [name, alias.metricErrors()])),
      functionThrottles: Object.fromEntries(
        Object.entries(live).map(([name, alias]) => [name, alias.metricThrottles()]),
      ),
      failedEvents: events.failures.metricApproximateNumberOfMessagesVisible(),
      serviceMetrics: props.compute === 'lambda',
    });
    // A new version that errs or answers 5xx goes back out of service.
    new Release(this, 'Release', {
      aliases: live,
      alarms: ['ServerErrorRate', 'HttpErrors', 'EventsErrors']
        .filter((name) => name in alarms.byName)
        .map((name) => alarms.byName[name]),
      config: canaryConfig(props.canary),
    });

    new CfnOutput(this, 'ApiUrl', { value: api.url });
    new CfnOutput(this, 'CdnUrl', { value: publicUrl });
    new CfnOutput(this, 'UserPoolId', { value: identity.userPool.userPoolId });
    new CfnOutput(this, 'AppClientId', { value: identity.appClient.userPoolClientId });
    new CfnOutput(this, 'UploadsBucket', { value: storage.uploads.bucketName });
  }

  /** The Lambda API behind its Function URL or API Gateway. */
  private lambdaApi(
    props: AtriumProps,
    functionProps: FunctionProps,
    userPool: cognito.IUserPool,
    domain?: Domain,
  ): ApiShape {
    const api = new LambdaApi(this, 'Api', functionProps);
    if (props.front === 'url') {
      // A Function URL takes no custom domain: there CloudFront's is the API's.
      const url = api.addUrl();
      const urlMetric = (name: string) => api.live.metric(name, { statistic: 'Sum', period: Duration.minutes(5) });
      return {
        origin: new origins.FunctionUrlOrigin(url),
        url: url.url,
        serverErrors: urlMetric('Url5xxCount'),
        requests: urlMetric('UrlRequestCount'),
        live: api.live,
      };
    }
    const gateway = new Gateway(this, 'Gateway', {
      ...props.gateway,
      blogCacheTtl: Duration.seconds(props.gateway.blogCacheSeconds),
      live: api.live,
      userPool,
      corsOrigins: props.corsOrigins,
    });
    let url = gateway.api.url;
    if (domain) {
      const name = gateway.api.addDomainName('Domain', {
        domainName: apiName(domain.settings),
        certificate: domain.apiCertificate(),
        securityPolicy: apigateway.SecurityPolicy.TLS_1_2,
        endpointType: apigateway.EndpointType.REGIONAL,
      });
      domain.alias('Api', apiName(domain.settings), new targets.ApiGatewayDomain(name));
      url = `https://${apiName(domain.settings)}/`;
    }
    return {
      origin: new origins.RestApiOrigin(gateway.api),
      url,
      serverErrors: gateway.serverErrors(),
      requests: gateway.requests(),
      live: api.live,
    };
  }

  /** The container API behind its ALB; with a domain, over HTTPS. */
  private ecsApi(props: EcsApiProps, domain?: Domain): ApiShape {
    const name = domain && apiName(domain.settings);
    const api = new EcsApi(this, 'Api', {
      ...props,
      https: domain && { name: name!, zone: domain.zone, certificate: domain.apiCertificate() },
    });
    const alb = api.service.loadBalancer;
    const serverErrors = alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT);
    if (name) {
      return {
        origin: new origins.HttpOrigin(name, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY }),
        url: `https://${name}`,
        serverErrors,
        requests: alb.metrics.requestCount(),
      };
    }
    return {
      origin: new origins.LoadBalancerV2Origin(alb, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY }),
      url: `http://${alb.loadBalancerDnsName}`,
      serverErrors,
      requests: alb.metrics.requestCount(),
    };
  }
}
