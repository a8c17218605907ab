/**
 * The whole deployment of atrium in one stack, in either compute shape.
 * Everything the binary needs reaches it as the same environment variables
 * the README documents.
 */
import { CfnOutput, Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { serviceStatements } from './access';
import { EcsApi, Events, LambdaApi, defaultBootstrapDir } from './compute';
import { Data } from './data';
import { Edge } from './edge';
import { Identity } from './identity';
import { Mail } from './mail';
import { Alarms } from './observability';
import { Storage } from './storage';
import { acknowledge } from './nag';
import { serviceEnvironment } from './environment';

export type Compute = 'lambda' | 'ecs';

export interface AtriumProps extends StackProps {
  readonly compute: Compute;
  readonly production: boolean;
  readonly mailFrom: string;
  readonly sesIdentity?: string;
  readonly replicaRegions: string[];
  readonly corsOrigins: string[];
  /** Where `cargo lambda build` left `bootstrap`. */
  readonly bootstrapDir?: string;
}

export class AtriumStack extends Stack {
  constructor(scope: Construct, id: string, props: AtriumProps) {
    super(scope, id, props);
    const data = new Data(this, 'Data', props);
    const storage = new Storage(this, 'Storage', props);
    const identity = new Identity(this, 'Identity', { ...props, uploads: storage.uploads });
    const mail = new Mail(this, 'Mail', { from: props.mailFrom, identity: props.sesIdentity });

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
      APP_MAIL_FROM: mail.from,
      APP_COGNITO_USER_POOL_ID: identity.userPool.userPoolId,
      APP_COGNITO_CLIENT_IDS: identity.appClient.userPoolClientId,
      APP_LOG_FORMAT: 'json',
    });
    const bootstrapDir = props.bootstrapDir ?? defaultBootstrapDir();

    let apiOrigin: cloudfront.IOrigin;
    let apiUrl: string;
    let serverErrors: cloudwatch.IMetric;
    let requests: cloudwatch.IMetric;
    const functionErrors: Record<string, cloudwatch.IMetric> = {};
    const functionThrottles: Record<string, cloudwatch.IMetric> = {};
    if (props.compute === 'lambda') {
      const api = new LambdaApi(this, 'Api', { bootstrapDir, environment, statements, uploads: storage.uploads });
      apiOrigin = new origins.FunctionUrlOrigin(api.url);
      apiUrl = api.url.url;
      const urlMetric = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/Lambda',
          metricName,
          dimensionsMap: { FunctionName: api.function.functionName },
          statistic: 'Sum',
          period: Duration.minutes(5),
        });
      serverErrors = urlMetric('Url5xxCount');
      requests = urlMetric('UrlRequestCount');
      functionErrors.Http = api.function.metricErrors();
      functionThrottles.Http = api.function.metricThrottles();
    } else {
      const api = new EcsApi(this, 'Api', { environment, statements, uploads: storage.uploads });
      const alb = api.service.loadBalancer;
      apiOrigin = new origins.LoadBalancerV2Origin(alb, {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
      });
      apiUrl = `http://${alb.loadBalancerDnsName}`;
      serverErrors = alb.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT);
      requests = alb.metrics.requestCount();
    }
    const edge = new Edge(this, 'Edge', { site: storage.site, logs: storage.logs, api: apiOrigin });
    if (props.compute === 'ecs') {
      acknowledge(
        edge.distribution,
        'CFR5',
        'Without a domain the ALB has no certificate, so CloudFront reaches it over HTTP; ' +
          'add a certificate and an HTTPS listener with a domain.',
      );
    }
    const events = new Events(this, 'Events', {
      bootstrapDir,
      // Links in mail (unsubscribe) go through CloudFront's /blog/*.
      environment: serviceEnvironment({
        ...environment,
        APP_PUBLIC_URL: `https://${edge.distribution.distributionDomainName}`,
      }),
      statements,
      table: data.table,
      uploads: storage.uploads,
    });
    functionErrors.Events = events.function.metricErrors();
    functionThrottles.Events = events.function.metricThrottles();
    new Alarms(this, 'Alarms', {
      serverErrors,
      requests,
      tableThrottles: data.throttles(),
      functionErrors,
      functionThrottles,
      failedEvents: events.failures.metricApproximateNumberOfMessagesVisible(),
      serviceMetrics: props.compute === 'lambda',
    });

    new CfnOutput(this, 'ApiUrl', { value: apiUrl });
    new CfnOutput(this, 'CdnUrl', { value: `https://${edge.distribution.distributionDomainName}` });
    new CfnOutput(this, 'UserPoolId', { value: identity.userPool.userPoolId });
    new CfnOutput(this, 'AppClientId', { value: identity.appClient.userPoolClientId });
    new CfnOutput(this, 'UploadsBucket', { value: storage.uploads.bucketName });
  }
}
