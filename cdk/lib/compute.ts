/**
 * Where the binary runs. The API runs as a Lambda function (behind a
 * Function URL or API Gateway, context `front`), or as an ECS/Fargate
 * service behind an ALB (context `compute`); the events function (DynamoDB
 * Stream INSERTs of subscribers, S3 ObjectCreated under `users/`) is Lambda
 * in both shapes; it also writes the blog's site into the site bucket. All
 * are the same binary.
 *
 * Every Lambda deploy publishes a version behind the alias `live`, and
 * everything that invokes a function (the URL, API Gateway, the stream, S3)
 * invokes the alias, so `Release` can shift traffic between versions.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ecsPatterns from 'aws-cdk-lib/aws-ecs-patterns';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { SERVICE_PREFIXES, SITE_PATHS } from './access';
import { acknowledge, acknowledgeWildcardBelow } from './nag';
import { repoRoot } from './repo';
import { serviceEnvironment } from './environment';

/** How long in-flight requests get after SIGTERM (`APP_SHUTDOWN_GRACE`). */
export const SHUTDOWN_GRACE = Duration.seconds(20);

/** `cargo lambda build --release --arm64` puts the binary here. */
export function defaultBootstrapDir(): string {
  return path.join(repoRoot(), 'target', 'lambda', 'atrium');
}

function lambdaCode(bootstrapDir: string): lambda.Code {
  if (!fs.existsSync(path.join(bootstrapDir, 'bootstrap'))) {
    throw new Error(
      `no ${bootstrapDir}/bootstrap: run \`cargo lambda build --release --arm64\` first ` +
        '(or pass -c bootstrapDir=...)',
    );
  }
  return lambda.Code.fromAsset(bootstrapDir);
}

/** A role for the binary, holding exactly `statements`. */
function serviceRole(
  scope: Construct,
  id: string,
  principal: string,
  statements: iam.PolicyStatement[],
  uploads: s3.IBucket,
) {
  const role = new iam.Role(scope, id, { assumedBy: new iam.ServicePrincipal(principal) });
  statements.forEach((statement) => role.addToPolicy(statement));
  for (const prefix of SERVICE_PREFIXES) {
    acknowledgeWildcardBelow(
      role,
      uploads,
      `/${prefix}*`,
      `Every object below ${prefix} is a user file or thumbnail the service manages; the actions are named.`,
    );
  }
  return role;
}

function logGroup(scope: Construct, id: string) {
  return new logs.LogGroup(scope, id, { retention: logs.RetentionDays.ONE_MONTH });
}

export interface FunctionProps {
  readonly bootstrapDir: string;
  readonly uploads: s3.IBucket;
  readonly environment: Record<string, string>;
  readonly statements: iam.PolicyStatement[];
}

/** The alias every invoker uses; deploys shift it from version to version. */
export const LIVE = 'live';

/** A function running the binary (provided.al2023, arm64), and its alias `live`. */
function binaryFunction(scope: Construct, id: string, props: FunctionProps & {
  handler: 'http' | 'events';
  memorySize: number;
  timeout: Duration;
}): lambda.Alias {
  const group = logGroup(scope, `${id}Logs`);
  const role = serviceRole(
    scope,
    `${id}Role`,
    'lambda.amazonaws.com',
    [
      ...props.statements,
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${group.logGroupArn}:*`],
      }),
    ],
    props.uploads,
  );
  acknowledgeWildcardBelow(role, group, ':*', 'Log streams of the function\'s own log group.');
  const fn = new lambda.Function(scope, id, {
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'bootstrap',
    code: lambdaCode(props.bootstrapDir),
    memorySize: props.memorySize,
    timeout: props.timeout,
    role,
    logGroup: group,
    environment: serviceEnvironment({ ...props.environment, APP_LAMBDA_HANDLER: props.handler }),
  });
  return new lambda.Alias(scope, `${id}Live`, { aliasName: LIVE, version: fn.currentVersion });
}

/** The API as a Lambda function; its alias `live` is what fronts invoke. */
export class LambdaApi extends Construct {
  readonly live: lambda.Alias;

  constructor(scope: Construct, id: string, props: FunctionProps) {
    super(scope, id);
    this.live = binaryFunction(this, 'Http', {
      ...props,
      handler: 'http',
      memorySize: 512,
      timeout: Duration.seconds(29),
    });
  }

  /** A Function URL on the alias: the service checks Cognito tokens itself,
   *  and public routes (the blog) need none. */
  addUrl(): lambda.FunctionUrl {
    return this.live.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
  }
}

export interface EcsApiProps {
  readonly environment: Record<string, string>;
  readonly statements: iam.PolicyStatement[];
  readonly uploads: s3.IBucket;
  /** Serve HTTPS under this name (with its zone and certificate), HTTP redirected. */
  readonly https?: { name: string; zone: route53.IHostedZone; certificate: acm.ICertificate };
}

/** The API as a Fargate service behind a public ALB, from the Dockerfile. */
export class EcsApi extends Construct {
  readonly service: ecsPatterns.ApplicationLoadBalancedFargateService;

  constructor(scope: Construct, id: string, props: EcsApiProps) {
    super(scope, id);
    const vpc = new ec2.Vpc(this, 'Vpc', { maxAzs: 2, natGateways: 1 });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(logGroup(this, 'FlowLogs')),
    });
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskRole = serviceRole(this, 'TaskRole', 'ecs-tasks.amazonaws.com', props.statements, props.uploads);
    this.service = new ecsPatterns.ApplicationLoadBalancedFargateService(this, 'Service', {
      cluster,
      cpu: 512,
      memoryLimitMiB: 1024,
      desiredCount: 2,
      publicLoadBalancer: true,
      ...(props.https && {
        protocol: elbv2.ApplicationProtocol.HTTPS,
        certificate: props.https.certificate,
        domainName: props.https.name,
        domainZone: props.https.zone,
        sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
        redirectHTTP: true,
      }),
      circuitBreaker: { rollback: true },
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
      taskImageOptions: {
        image: ecs.ContainerImage.fromAsset(repoRoot(), { file: 'Dockerfile' }),
        containerPort: 8080,
        taskRole,
        environment: serviceEnvironment({
          ...props.environment,
          APP_SHUTDOWN_GRACE: `${SHUTDOWN_GRACE.toSeconds()}s`,
          // The ALB appends the client to X-Forwarded-For.
          APP_TRUSTED_PROXY_HOPS: '1',
        }),
        logDriver: ecs.LogDrivers.awsLogs({ streamPrefix: 'api', logGroup: logGroup(this, 'Logs') }),
      },
    });
    // ECS waits this long after SIGTERM before SIGKILL: more than the grace.
    const taskDefinition = this.service.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition;
    taskDefinition.addPropertyOverride('ContainerDefinitions.0.StopTimeout', SHUTDOWN_GRACE.toSeconds() + 10);
    const target = this.service.targetGroup;
    target.configureHealthCheck({ path: '/readyz', healthyHttpCodes: '200', interval: Duration.seconds(15) });
    // Deregistration waits as long as the service drains after SIGTERM.
    target.setAttribute('deregistration_delay.timeout_seconds', `${SHUTDOWN_GRACE.toSeconds()}`);
    const scaling = this.service.service.autoScaleTaskCount({ minCapacity: 2, maxCapacity: 10 });
    scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 60 });
    scaling.scaleOnRequestCount('Requests', { requestsPerTarget: 1000, targetGroup: target });
    this.acknowledgeFindings();
  }

  private acknowledgeFindings() {
    const { loadBalancer, taskDefinition } = this.service;
    acknowledge(loadBalancer, 'ELB2', 'Requests are logged by the service itself (JSON logs with request ids) and by CloudFront.');
    acknowledge(loadBalancer, 'EC23', 'The load balancer is the public entry point of the API; the service checks tokens.');
    acknowledge(taskDefinition, 'ECS2', 'The environment holds resource names and settings, no secrets.');
    acknowledge(
      taskDefinition,
      'IAM5[Resource::*]',
      'The execution role needs ecr:GetAuthorizationToken, which has no resource-level permissions.',
    );
  }
}

export interface EventsProps extends FunctionProps {
  readonly table: dynamodb.ITable;
  readonly uploads: s3.Bucket;
  /** The site bucket, whose generated pages the function writes. */
  readonly site: s3.IBucket;
}

/** The events function with its two sources and the stream's on-failure queue. */
export class Events extends Construct {
  readonly live: lambda.Alias;
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventsProps) {
    super(scope, id);
    this.live = binaryFunction(this, 'Function', {
      ...props,
      handler: 'events',
      memorySize: 1024, // thumbnails of 12 MP photos
      timeout: Duration.seconds(60),
    });
    for (const path of SITE_PATHS.filter((p) => p.endsWith('/'))) {
      acknowledgeWildcardBelow(
        this,
        props.site,
        `/${path}*`,
        `Every object below ${path} is a page the site generator writes; the actions are named.`,
      );
    }
    this.failures = new sqs.Queue(this, 'Failures', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(this.failures, 'SQS3', 'This queue is itself the on-failure destination of the stream.');
    this.live.addEventSource(
      new sources.DynamoEventSource(props.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        bisectBatchOnError: true,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(6),
        reportBatchItemFailures: true,
        onFailure: new sources.SqsDlq(this.failures),
        // New subscribers (the welcome email) and every change of a post
        // (the site's pages); nothing else needs a reaction.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: { Keys: { SK: { S: lambda.FilterRule.isEqual('SUB') } } },
          }),
          lambda.FilterCriteria.filter({
            dynamodb: { Keys: { SK: { S: lambda.FilterRule.isEqual('POST') } } },
          }),
        ],
      }),
    );
    // Thumbnails go under thumbs/, so they never trigger this again.
    props.uploads.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new s3n.LambdaDestination(this.live),
      { prefix: 'users/' },
    );
    acknowledge(
      Stack.of(this),
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "CDK's bucket-notification helper function uses AWSLambdaBasicExecutionRole.",
    );
  }
}
