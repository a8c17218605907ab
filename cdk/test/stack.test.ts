/**
 * Synthesizes the app offline (no credentials, no Docker) in every shape
 * (Lambda behind a Function URL or API Gateway, ECS; with and without a
 * domain) and checks the templates: the table equals migrations/, identity,
 * storage, edge, compute, events, mail, least privilege, alarms, canary
 * deploys, backups, and that cdk-nag's AwsSolutions checks pass with every
 * finding acknowledged.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/atrium';
import { latestTable, repoRoot } from '../lib/repo';
import { knownVariables, serviceEnvironment } from '../lib/environment';
import { SITE_PATHS } from '../lib/access';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-cdk-test-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

/** A stand-in for `cargo lambda build` output: synth only packages it. */
const bootstrapDir = fs.mkdtempSync(path.join(scratch, 'bootstrap-'));
fs.writeFileSync(path.join(bootstrapDir, 'bootstrap'), '#!/bin/sh\n');

function synth(context: Record<string, string>): Template {
  const app = new App({
    outdir: fs.mkdtempSync(path.join(scratch, 'out-')),
    context: { bootstrapDir, mailFrom: 'news@example.com', ...context },
  });
  const stack = buildApp(app);
  app.synth(); // throws if cdk-nag finds anything unacknowledged
  return Template.fromStack(stack);
}

const lambdaShape = synth({ compute: 'lambda' });
const ecsShape = synth({ compute: 'ecs' });

const resources = (template: Template, type: string) => Object.values(template.findResources(type));

test('the table is the one migrations/ defines', () => {
  const def = latestTable();
  for (const template of [lambdaShape, ecsShape]) {
    const [table] = resources(template, 'AWS::DynamoDB::GlobalTable');
    const props = table.Properties;
    assert.deepEqual(props.KeySchema, [
      { AttributeName: def.partition_key, KeyType: 'HASH' },
      { AttributeName: def.sort_key, KeyType: 'RANGE' },
    ]);
    const attributes = Object.fromEntries(
      props.AttributeDefinitions.map((a: any) => [a.AttributeName, a.AttributeType]),
    );
    assert.deepEqual(attributes, def.attributes);
    assert.deepEqual(
      props.GlobalSecondaryIndexes.map((index: any) => ({
        name: index.IndexName,
        partition_key: index.KeySchema[0].AttributeName,
        sort_key: index.KeySchema[1]?.AttributeName,
        projection: index.Projection.ProjectionType,
      })),
      def.global_secondary_indexes,
    );
    assert.deepEqual(props.TimeToLiveSpecification, { AttributeName: def.ttl_attribute, Enabled: true });
    assert.equal(props.StreamSpecification.StreamViewType, def.stream_view_type);
    assert.equal(props.BillingMode, 'PAY_PER_REQUEST');
    assert.equal(props.Replicas[0].PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
  }
});

test('production retains the table and protects it; replicas come from context', () => {
  assert.equal(resources(lambdaShape, 'AWS::DynamoDB::GlobalTable')[0].DeletionPolicy, 'Delete');
  process.env.CDK_DEFAULT_REGION = 'eu-west-1';
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  const production = synth({ compute: 'lambda', production: 'true', replicaRegions: 'us-east-1, ap-southeast-2' });
  const [table] = resources(production, 'AWS::DynamoDB::GlobalTable');
  assert.equal(table.DeletionPolicy, 'Retain');
  assert.deepEqual(
    table.Properties.Replicas.map((r: any) => r.Region).sort(),
    ['ap-southeast-2', 'eu-west-1', 'us-east-1'],
  );
  assert.ok(table.Properties.Replicas.every((r: any) => r.DeletionProtectionEnabled === true));
});

test('users sign in with email to a pool with a strong password policy and optional MFA', () => {
  lambdaShape.hasResourceProperties('AWS::Cognito::UserPool', {
    UsernameAttributes: ['email'],
    MfaConfiguration: 'OPTIONAL',
    Policies: {
      PasswordPolicy: Match.objectLike({
        MinimumLength: 12,
        RequireLowercase: true,
        RequireUppercase: true,
        RequireNumbers: true,
        RequireSymbols: true,
      }),
    },
  });
  lambdaShape.hasResourceProperties('AWS::Cognito::UserPoolClient', {
    GenerateSecret: false,
    ExplicitAuthFlows: Match.arrayWith(['ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']),
  });
  lambdaShape.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'authors' });
  lambdaShape.hasResourceProperties('AWS::Cognito::UserPoolGroup', { GroupName: 'editors' });
});

test('the identity pool gives signed-in users their own S3 folder and nothing else', () => {
  lambdaShape.hasResourceProperties('AWS::Cognito::IdentityPool', { AllowUnauthenticatedIdentities: false });
  lambdaShape.hasResourceProperties('AWS::Cognito::IdentityPoolPrincipalTag', {
    PrincipalTags: { sub: 'sub' },
    UseDefaults: false,
  });
  const role = Object.entries(lambdaShape.findResources('AWS::IAM::Role')).find(([id]) =>
    id.includes('SignedInUser'),
  )!;
  const trust = JSON.stringify(role[1].Properties.AssumeRolePolicyDocument);
  assert.match(trust, /sts:AssumeRoleWithWebIdentity/);
  assert.match(trust, /sts:TagSession/);
  assert.match(trust, /"cognito-identity.amazonaws.com:amr":"authenticated"/);
  const policy = resources(lambdaShape, 'AWS::IAM::Policy').find((p) =>
    JSON.stringify(p.Properties.Roles).includes(role[0]),
  )!;
  const statements = policy.Properties.PolicyDocument.Statement;
  const text = JSON.stringify(statements);
  assert.match(text, /\/users\/\$\{aws:PrincipalTag\/sub\}\/\*/);
  const list = statements.find((s: any) => s.Action === 's3:ListBucket');
  assert.deepEqual(list.Condition.StringLike['s3:prefix'], [
    'users/${aws:PrincipalTag/sub}/',
    'users/${aws:PrincipalTag/sub}/*',
  ]);
  const actions = statements.flatMap((s: any) => [s.Action].flat());
  assert.deepEqual(actions.sort(), ['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
});

test('buckets are private, encrypted, TLS-only; uploads notify the events function for users/ only', () => {
  for (const bucket of resources(lambdaShape, 'AWS::S3::Bucket')) {
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    assert.ok(bucket.Properties.BucketEncryption);
  }
  const policies = resources(lambdaShape, 'AWS::S3::BucketPolicy').map((p) => JSON.stringify(p));
  assert.ok(policies.length >= 3 && policies.every((p) => p.includes('aws:SecureTransport')));
  lambdaShape.hasResourceProperties('AWS::S3::Bucket', {
    CorsConfiguration: { CorsRules: [Match.objectLike({ AllowedMethods: ['PUT', 'GET', 'HEAD'] })] },
    LifecycleConfiguration: {
      Rules: [Match.objectLike({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })],
    },
  });
  lambdaShape.hasResourceProperties('Custom::S3BucketNotifications', {
    NotificationConfiguration: {
      LambdaFunctionConfigurations: [
        Match.objectLike({
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'users/' }] } },
        }),
      ],
    },
  });
});

test('CloudFront serves the site through origin access control and /blog/* from the API by its Cache-Control', () => {
  for (const template of [lambdaShape, ecsShape]) {
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({ DefaultTTL: 0, MinTTL: 0, MaxTTL: 86400 }),
    });
    const [distribution] = resources(template, 'AWS::CloudFront::Distribution');
    const blog = distribution.Properties.DistributionConfig.CacheBehaviors.find(
      (b: any) => b.PathPattern === '/blog/*',
    );
    assert.ok(blog, 'a /blog/* behaviour');
    assert.deepEqual(blog.CachedMethods, ['GET', 'HEAD', 'OPTIONS']);
    // Directory pages (posts/hello/) are served by their index.html.
    const site = distribution.Properties.DistributionConfig.DefaultCacheBehavior;
    assert.equal(site.FunctionAssociations[0].EventType, 'viewer-request');
    const [fn] = resources(template, 'AWS::CloudFront::Function');
    const handler = new Function(`${fn.Properties.FunctionCode}; return handler;`)();
    assert.equal(handler({ request: { uri: '/' } }).uri, '/index.html');
    assert.equal(handler({ request: { uri: '/posts/hello/' } }).uri, '/posts/hello/index.html');
    assert.equal(handler({ request: { uri: '/posts/hello' } }).headers.location.value, '/posts/hello/');
    assert.equal(handler({ request: { uri: '/feed.xml' } }).uri, '/feed.xml');
    // A missing page is a 404 (S3 says 403 to a reader that may not list),
    // and only this distribution may list; no query string reaches S3.
    const policies = resources(template, 'AWS::S3::BucketPolicy');
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    const listing = statements.filter((s: any) => s.Sid === 'CloudFrontAnswers404');
    assert.equal(listing.length, 1);
    assert.deepEqual(listing[0].Principal, { Service: 'cloudfront.amazonaws.com' });
    assert.equal(listing[0].Action, 's3:ListBucket');
    assert.ok(listing[0].Condition.StringEquals['AWS:SourceArn'], 'this distribution only');
    assert.equal(site.CachePolicyId, '658327ea-f89d-4fab-a63d-7e88639e58f6', 'CachingOptimized: no query strings');
  }
});

test('Lambda shape: the binary on provided.al2023 arm64, HTTP behind a Function URL', () => {
  const functions = resources(lambdaShape, 'AWS::Lambda::Function').filter(
    (f) => f.Properties.Runtime === 'provided.al2023',
  );
  assert.equal(functions.length, 2);
  for (const f of functions) {
    assert.deepEqual(f.Properties.Architectures, ['arm64']);
    assert.equal(f.Properties.Handler, 'bootstrap');
    assert.equal(f.Properties.Environment.Variables.APP_STORE, 'dynamodb');
  }
  const handlers = functions.map((f) => f.Properties.Environment.Variables.APP_LAMBDA_HANDLER).sort();
  assert.deepEqual(handlers, ['events', 'http']);
  lambdaShape.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
  ecsShape.resourceCountIs('AWS::Lambda::Url', 0);
});

test('ECS shape: Fargate behind an ALB, /readyz health check, drain as long as the grace, autoscaling', () => {
  ecsShape.hasResourceProperties('AWS::ECS::Service', { LaunchType: 'FARGATE' });
  ecsShape.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
    HealthCheckPath: '/readyz',
    Port: 80,
    TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '20' }]),
  });
  const [task] = resources(ecsShape, 'AWS::ECS::TaskDefinition');
  const container = task.Properties.ContainerDefinitions[0];
  assert.equal(container.PortMappings[0].ContainerPort, 8080);
  assert.equal(container.StopTimeout, 30);
  const env = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
  assert.equal(env.APP_SHUTDOWN_GRACE, '20s');
  const metrics = resources(ecsShape, 'AWS::ApplicationAutoScaling::ScalingPolicy').map(
    (p) => p.Properties.TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType,
  );
  assert.deepEqual(metrics.sort(), ['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization']);
});

test('the events function reads only subscriber INSERTs and post changes, bisects, caps retries and age, and keeps failures', () => {
  for (const template of [lambdaShape, ecsShape]) {
    const [mapping] = resources(template, 'AWS::Lambda::EventSourceMapping');
    const props = mapping.Properties;
    assert.equal(props.BisectBatchOnFunctionError, true);
    assert.equal(props.MaximumRetryAttempts, 3);
    assert.equal(props.MaximumRecordAgeInSeconds, 21600);
    assert.deepEqual(props.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.ok(props.DestinationConfig.OnFailure.Destination);
    const patterns = props.FilterCriteria.Filters.map((f: any) => JSON.parse(f.Pattern));
    assert.deepEqual(patterns, [
      { eventName: ['INSERT'], dynamodb: { Keys: { SK: { S: ['SUB'] } } } },
      { dynamodb: { Keys: { SK: { S: ['POST'] } } } },
    ]);
  }
});

test('mail goes out from an SES identity with a configuration set', () => {
  lambdaShape.hasResourceProperties('AWS::SES::EmailIdentity', {
    EmailIdentity: 'example.com',
    ConfigurationSetAttributes: Match.anyValue(),
  });
  lambdaShape.resourceCountIs('AWS::SES::ConfigurationSet', 1);
});

test('no policy grants wildcard actions on the table, the buckets or the mail identity', () => {
  for (const template of [lambdaShape, ecsShape]) {
    const data = [
      ...Object.keys(template.findResources('AWS::DynamoDB::GlobalTable')),
      ...Object.keys(template.findResources('AWS::S3::Bucket')),
      ...Object.keys(template.findResources('AWS::SES::EmailIdentity')),
    ];
    const statements = resources(template, 'AWS::IAM::Policy').flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const touching = statements.filter((s: any) => data.some((id) => JSON.stringify(s.Resource).includes(id)));
    assert.ok(touching.length >= 5);
    for (const statement of touching) {
      for (const action of [statement.Action].flat()) {
        assert.ok(!action.includes('*'), `${action} on ${JSON.stringify(statement.Resource)}`);
      }
    }
  }
});

test('logs are kept a month and alarms watch 5xx, throttles, function errors and failed events', () => {
  for (const template of [lambdaShape, ecsShape]) {
    for (const group of resources(template, 'AWS::Logs::LogGroup')) {
      assert.equal(group.Properties.RetentionInDays, 30);
    }
    const alarms = resources(template, 'AWS::CloudWatch::Alarm').map((a) => a.Properties.AlarmDescription);
    for (const expected of ['5xx', 'DynamoDB throttled', 'Events function errors', 'on-failure queue']) {
      assert.ok(alarms.some((d) => d.includes(expected)), `an alarm on ${expected}: ${alarms}`);
    }
  }
});

test('a dashboard shows the alarms and traffic, and on Lambda the figures the service logs as EMF', () => {
  const body = (template: Template) => {
    const [dashboard] = resources(template, 'AWS::CloudWatch::Dashboard');
    assert.ok(dashboard, 'a dashboard');
    return JSON.stringify(dashboard.Properties.DashboardBody);
  };
  const lambda = body(lambdaShape);
  for (const figure of ['alarm', 'Requests by route', 'SEARCH', 'Route,Status', 'CacheHits', 'ResponseCacheMisses']) {
    assert.ok(lambda.includes(figure), `the Lambda dashboard shows ${figure}`);
  }
  // Containers expose /metrics instead of writing EMF: no empty graphs;
  // the events function is Lambda in both shapes and reports its work.
  const ecs = body(ecsShape);
  assert.ok(ecs.includes('alarm') && !ecs.includes('CacheHits'));
  for (const figure of ['EmailsSent', 'ThumbnailsMade', 'EventsHandled', 'EventsFailed']) {
    assert.ok(ecs.includes(figure) && lambda.includes(figure), `both dashboards show ${figure}`);
  }
});

test('every variable the stacks set is one the binary reads, and a stray name fails synth', () => {
  const known = knownVariables();
  const set = [lambdaShape, ecsShape].flatMap((shape) => [
    ...resources(shape, 'AWS::Lambda::Function')
      .filter((f) => f.Properties.Runtime === 'provided.al2023')
      .flatMap((f) => Object.keys(f.Properties.Environment.Variables)),
    ...resources(shape, 'AWS::ECS::TaskDefinition').flatMap((t) =>
      t.Properties.ContainerDefinitions[0].Environment.map((e: any) => e.Name),
    ),
  ]);
  assert.ok(set.length > 20, `the stacks set variables: ${set.length}`);
  for (const name of set) assert.ok(name in known, `${name} is read by the binary`);
  assert.throws(() => serviceEnvironment({ APP_STOER: 'dynamodb' }), /APP_STOER/);
});

// ---- Fronts, canary deploys, backups and domains (issue 16) ----

/** Synthesizes with the stack's account and region known (domains need them). */
function synthIn(region: string, context: Record<string, string>): { main: Template; app: App } {
  const saved = { region: process.env.CDK_DEFAULT_REGION, account: process.env.CDK_DEFAULT_ACCOUNT };
  process.env.CDK_DEFAULT_REGION = region;
  process.env.CDK_DEFAULT_ACCOUNT = '123456789012';
  try {
    const app = new App({
      outdir: fs.mkdtempSync(path.join(scratch, 'out-')),
      context: { bootstrapDir, mailFrom: 'news@example.com', ...context },
    });
    const stack = buildApp(app);
    app.synth();
    return { main: Template.fromStack(stack), app };
  } finally {
    process.env.CDK_DEFAULT_REGION = saved.region;
    process.env.CDK_DEFAULT_ACCOUNT = saved.account;
    if (saved.region === undefined) delete process.env.CDK_DEFAULT_REGION;
    if (saved.account === undefined) delete process.env.CDK_DEFAULT_ACCOUNT;
  }
}

const gatewayShape = synth({ compute: 'lambda', front: 'apigateway' });
const keyedShape = synth({ compute: 'lambda', front: 'apigateway', apiKey: 'true', stage: 'v1' });
const zone = { hostedZoneId: 'Z0123456789ABCDEFGHIJ', hostedZoneName: 'example.com' };

/** Each API Gateway method as `METHOD /path` with its authorization. */
function methods(template: Template) {
  const resources = template.findResources('AWS::ApiGateway::Resource');
  const pathOf = (ref: any): string => {
    if (!ref?.Ref) return '';
    const resource = resources[ref.Ref];
    return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart}`;
  };
  return resources && Object.values(template.findResources('AWS::ApiGateway::Method')).map((m: any) => ({
    route: `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId) || '/'}`,
    authorization: m.Properties.AuthorizationType,
    scopes: m.Properties.AuthorizationScopes,
    apiKey: m.Properties.ApiKeyRequired === true,
    integration: JSON.stringify(m.Properties.Integration),
    cacheKey: m.Properties.Integration?.CacheKeyParameters,
  }));
}

test('API Gateway front: every route reaches the alias; the authorizer guards exactly the authenticated routes', () => {
  const found = methods(gatewayShape);
  const open = [
    'ANY /blog/subscribers',
    'ANY /blog/subscribers/{proxy+}',
    'GET /blog/{proxy+}',
    'GET /healthz',
    'GET /openapi.json',
    'GET /readyz',
    'HEAD /blog/{proxy+}',
    'OPTIONS /blog/{proxy+}',
    'OPTIONS /{proxy+}',
  ];
  const guarded = ['ANY /{proxy+}', 'DELETE /blog/{proxy+}', 'PATCH /blog/{proxy+}', 'POST /blog/{proxy+}', 'PUT /blog/{proxy+}'];
  assert.deepEqual(found.filter((m) => m.authorization === 'NONE').map((m) => m.route).sort(), open);
  const authorized = found.filter((m) => m.authorization !== 'NONE');
  assert.deepEqual(authorized.map((m) => m.route).sort(), guarded);
  for (const method of authorized) {
    assert.equal(method.authorization, 'COGNITO_USER_POOLS');
    // With a scope the authorizer takes access tokens, as the service does.
    assert.deepEqual(method.scopes, ['aws.cognito.signin.user.admin']);
    assert.equal(method.apiKey, false);
  }
  for (const method of found) {
    assert.match(method.integration, /AWS_PROXY/);
    assert.match(method.integration, /HttpLive/, `${method.route} invokes the alias live`);
  }
  gatewayShape.resourceCountIs('AWS::Lambda::Url', 0);
  gatewayShape.hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS' });
});

test('the stage throttles, logs JSON without bodies, and caches public blog GETs by path, query and encoding', () => {
  const [stage] = resources(gatewayShape, 'AWS::ApiGateway::Stage');
  const props = stage.Properties;
  assert.equal(props.StageName, 'prod');
  assert.equal(props.CacheClusterEnabled, true);
  assert.match(props.AccessLogSetting.Format, /"requestId":"\$context.requestId"/);
  const byPath = Object.fromEntries(props.MethodSettings.map((s: any) => [`${s.HttpMethod} ${s.ResourcePath}`, s]));
  assert.deepEqual(Object.keys(byPath).sort(), ['* /*', 'GET /~1blog~1{proxy+}']);
  for (const setting of Object.values(byPath) as any[]) {
    assert.equal(setting.ThrottlingRateLimit, 100);
    assert.equal(setting.ThrottlingBurstLimit, 200);
    assert.equal(setting.DataTraceEnabled, false);
  }
  assert.equal(byPath['* /*'].CachingEnabled, undefined);
  assert.equal(byPath['GET /~1blog~1{proxy+}'].CachingEnabled, true);
  assert.equal(byPath['GET /~1blog~1{proxy+}'].CacheTtlInSeconds, 60);
  assert.equal(byPath['GET /~1blog~1{proxy+}'].CacheDataEncrypted, true);
  const blogGet = methods(gatewayShape).find((m) => m.route === 'GET /blog/{proxy+}')!;
  assert.deepEqual(blogGet.cacheKey, [
    'method.request.path.proxy',
    'method.request.querystring.limit',
    'method.request.querystring.cursor',
    'method.request.header.Accept-Encoding',
  ]);
  // No other method is cached.
  assert.ok(methods(gatewayShape).every((m) => m.route === blogGet.route || !m.cacheKey));
});

test('a usage plan always; with apiKey=true a key, required on the authenticated routes only', () => {
  gatewayShape.resourceCountIs('AWS::ApiGateway::UsagePlan', 1);
  gatewayShape.resourceCountIs('AWS::ApiGateway::ApiKey', 0);
  keyedShape.resourceCountIs('AWS::ApiGateway::ApiKey', 1);
  keyedShape.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 1);
  keyedShape.hasResourceProperties('AWS::ApiGateway::Stage', { StageName: 'v1' });
  for (const method of methods(keyedShape)) {
    assert.equal(method.apiKey, method.authorization !== 'NONE', method.route);
  }
});

test("API Gateway's own refusals are problem+json", () => {
  const responses = resources(gatewayShape, 'AWS::ApiGateway::GatewayResponse').map((r) => r.Properties);
  const types = responses.map((r) => r.ResponseType).sort();
  for (const type of ['ACCESS_DENIED', 'DEFAULT_4XX', 'DEFAULT_5XX', 'MISSING_AUTHENTICATION_TOKEN', 'THROTTLED', 'UNAUTHORIZED']) {
    assert.ok(types.includes(type), type);
  }
  for (const response of responses) {
    assert.equal(response.ResponseParameters['gatewayresponse.header.Content-Type'], "'application/problem+json'");
    const body = response.ResponseTemplates['application/json'];
    assert.match(body, /"type":"about:blank"/);
  }
  const unauthorized = responses.find((r) => r.ResponseType === 'UNAUTHORIZED');
  assert.equal(unauthorized.StatusCode, '401');
  assert.equal(unauthorized.ResponseParameters['gatewayresponse.header.WWW-Authenticate'], "'Bearer'");
  const noRoute = responses.find((r) => r.ResponseType === 'MISSING_AUTHENTICATION_TOKEN');
  assert.equal(noRoute.StatusCode, '404');
});

test("CloudFront's /blog/* goes to the API Gateway stage when it fronts the API", () => {
  const [distribution] = resources(gatewayShape, 'AWS::CloudFront::Distribution');
  const config = distribution.Properties.DistributionConfig;
  const blog = config.CacheBehaviors.find((b: any) => b.PathPattern === '/blog/*');
  const origin = config.Origins.find((o: any) => o.Id === blog.TargetOriginId);
  // The origin is the stage's URL: its host, and the stage as the path.
  assert.match(JSON.stringify(origin.DomainName), /execute-api/);
  assert.match(JSON.stringify(origin.OriginPath), /GatewayApiDeploymentStageprod/);
});

test('canary deploys: every invoker calls the alias live, which CodeDeploy shifts and rolls back on alarms', () => {
  for (const template of [lambdaShape, gatewayShape, ecsShape]) {
    const aliases = resources(template, 'AWS::Lambda::Alias');
    const expected = template === ecsShape ? 1 : 2;
    assert.equal(aliases.length, expected);
    assert.ok(aliases.every((a) => a.Properties.Name === 'live'));
    const groups = resources(template, 'AWS::CodeDeploy::DeploymentGroup');
    assert.equal(groups.length, expected);
    for (const group of groups) {
      assert.deepEqual(group.Properties.DeploymentConfigName, 'CodeDeployDefault.LambdaCanary10Percent5Minutes');
      assert.deepEqual(group.Properties.AutoRollbackConfiguration.Events.sort(), [
        'DEPLOYMENT_FAILURE',
        'DEPLOYMENT_STOP_ON_ALARM',
        'DEPLOYMENT_STOP_ON_REQUEST',
      ]);
      assert.equal(group.Properties.AlarmConfiguration.Enabled, true);
    }
    const alarmIds = new Set(groups.flatMap((g) => g.Properties.AlarmConfiguration.Alarms.map((a: any) => JSON.stringify(a.Name))));
    assert.ok([...alarmIds].some((id) => id.includes('EventsErrors')));
    if (template !== ecsShape) {
      assert.ok([...alarmIds].some((id) => id.includes('HttpErrors')));
      assert.ok([...alarmIds].some((id) => id.includes('ServerErrorRate')));
    }
    // Aliases are updated by CodeDeploy, so CloudFormation leaves them to it.
    for (const [, alias] of Object.entries(template.findResources('AWS::Lambda::Alias'))) {
      assert.ok(alias.UpdatePolicy?.CodeDeployLambdaAliasUpdate);
    }
    const [mapping] = resources(template, 'AWS::Lambda::EventSourceMapping');
    assert.match(JSON.stringify(mapping.Properties.FunctionName), /FunctionLive/);
    const notifications = JSON.stringify(resources(template, 'Custom::S3BucketNotifications'));
    assert.match(notifications, /FunctionLive/);
  }
  const [url] = resources(lambdaShape, 'AWS::Lambda::Url');
  assert.equal(url.Properties.Qualifier, 'live');
  // Alarms watch the alias: the versions serving traffic.
  const alarms = resources(lambdaShape, 'AWS::CloudWatch::Alarm').filter((a) =>
    a.Properties.AlarmDescription.includes('function errors'),
  );
  assert.ok(alarms.length === 2 && alarms.every((a) => a.Properties.Dimensions.some((d: any) => d.Name === 'Resource')));
  const allAtOnce = synth({ compute: 'lambda', canary: 'allatonce' });
  allAtOnce.hasResourceProperties('AWS::CodeDeploy::DeploymentGroup', {
    DeploymentConfigName: 'CodeDeployDefault.LambdaAllAtOnce',
  });
  assert.throws(() => synth({ compute: 'lambda', canary: 'sometimes' }), /canary=sometimes/);
});

test('containers roll back a failing deployment through the circuit breaker', () => {
  ecsShape.hasResourceProperties('AWS::ECS::Service', {
    DeploymentConfiguration: Match.objectLike({ DeploymentCircuitBreaker: { Enable: true, Rollback: true } }),
  });
});

test('daily backups of the table, kept backupDays, in a vault that outlives the stack', () => {
  for (const template of [lambdaShape, ecsShape]) {
    const [plan] = resources(template, 'AWS::Backup::BackupPlan');
    const [rule] = plan.Properties.BackupPlan.BackupPlanRule;
    assert.equal(rule.ScheduleExpression, 'cron(0 3 * * ? *)');
    assert.equal(rule.Lifecycle.DeleteAfterDays, 35);
    const [vault] = Object.values(template.findResources('AWS::Backup::BackupVault'));
    assert.equal(vault.DeletionPolicy, 'Retain');
    const [selection] = resources(template, 'AWS::Backup::BackupSelection');
    const table = Object.keys(template.findResources('AWS::DynamoDB::GlobalTable'))[0];
    assert.match(JSON.stringify(selection.Properties.BackupSelection.Resources), new RegExp(table));
  }
  const weekly = synth({ compute: 'lambda', backupDays: '7' });
  const [plan] = resources(weekly, 'AWS::Backup::BackupPlan');
  assert.equal(plan.Properties.BackupPlan.BackupPlanRule[0].Lifecycle.DeleteAfterDays, 7);
});

test('a restored table is adopted with context table: none is created, the service and stream use it', () => {
  const streamArn = 'arn:aws:dynamodb:us-east-1:123456789012:table/restored/stream/2026-12-03T00:00:00.000';
  const adopted = synth({ compute: 'lambda', table: 'restored', tableStreamArn: streamArn });
  adopted.resourceCountIs('AWS::DynamoDB::GlobalTable', 0);
  const [fn] = resources(adopted, 'AWS::Lambda::Function').filter((f) => f.Properties.Runtime === 'provided.al2023');
  assert.equal(fn.Properties.Environment.Variables.APP_TABLE, 'restored');
  const [mapping] = resources(adopted, 'AWS::Lambda::EventSourceMapping');
  assert.equal(mapping.Properties.EventSourceArn, streamArn);
  assert.match(JSON.stringify(resources(adopted, 'AWS::Backup::BackupSelection')), /table\/restored/);
  assert.throws(() => synth({ compute: 'lambda', table: 'restored' }), /tableStreamArn/);
});

test('a custom domain: ACM certificates, CloudFront and the API under it, TLS 1.2 at least', () => {
  // Outside us-east-1 CloudFront's certificate comes from a stack there.
  const { main, app } = synthIn('eu-west-1', { compute: 'lambda', front: 'apigateway', domain: 'blog.example.com', ...zone });
  const certificateStack = app.node.findChild('AtriumEdgeCertificate') as Stack;
  assert.equal(certificateStack.region, 'us-east-1');
  Template.fromStack(certificateStack).hasResourceProperties('AWS::CertificateManager::Certificate', {
    DomainName: 'blog.example.com',
    ValidationMethod: 'DNS',
  });
  const [distribution] = resources(main, 'AWS::CloudFront::Distribution');
  const config = distribution.Properties.DistributionConfig;
  assert.deepEqual(config.Aliases, ['blog.example.com']);
  assert.equal(config.ViewerCertificate.MinimumProtocolVersion, 'TLSv1.2_2021');
  assert.equal(config.ViewerCertificate.SslSupportMethod, 'sni-only');
  main.hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: 'api.blog.example.com' });
  main.hasResourceProperties('AWS::ApiGateway::DomainName', {
    DomainName: 'api.blog.example.com',
    SecurityPolicy: 'TLS_1_2',
  });
  main.resourceCountIs('AWS::ApiGateway::BasePathMapping', 1);
  const records = resources(main, 'AWS::Route53::RecordSet').map((r) => `${r.Properties.Type} ${r.Properties.Name}`);
  assert.deepEqual(records.sort(), [
    'A api.blog.example.com.',
    'A blog.example.com.',
    'AAAA api.blog.example.com.',
    'AAAA blog.example.com.',
  ]);
  const [events] = resources(main, 'AWS::Lambda::Function').filter(
    (f) => f.Properties.Environment?.Variables?.APP_LAMBDA_HANDLER === 'events',
  );
  assert.equal(events.Properties.Environment.Variables.APP_PUBLIC_URL, 'https://blog.example.com');

  // In us-east-1 one stack holds everything; containers answer HTTPS on the ALB.
  const { main: ecs, app: ecsApp } = synthIn('us-east-1', { compute: 'ecs', domain: 'blog.example.com', ...zone });
  assert.equal(ecsApp.node.tryFindChild('AtriumEdgeCertificate'), undefined);
  ecs.resourceCountIs('AWS::CertificateManager::Certificate', 2);
  ecs.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Protocol: 'HTTPS',
    SslPolicy: Match.stringLikeRegexp('TLS'),
  });
  ecs.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
    Protocol: 'HTTP',
    DefaultActions: [Match.objectLike({ Type: 'redirect' })],
  });
  const [ecsDistribution] = resources(ecs, 'AWS::CloudFront::Distribution');
  const apiOrigin = ecsDistribution.Properties.DistributionConfig.Origins.find(
    (o: any) => o.DomainName === 'api.blog.example.com',
  );
  assert.equal(apiOrigin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
  assert.throws(() => synth({ compute: 'lambda', domain: 'blog.example.com' }), /hostedZoneId/);
});

test('every shape and combination of context flags synthesizes offline and passes cdk-nag', () => {
  const combinations: Record<string, string>[] = [];
  for (const compute of ['lambda', 'ecs']) {
    for (const front of compute === 'lambda' ? ['url', 'apigateway'] : ['url']) {
      const extras: Record<string, string>[] = [{}, { production: 'true' }, { apiKey: 'true', canary: 'linear10percentevery1minute' }];
      for (const extra of extras) {
        combinations.push({ compute, front, ...extra });
      }
      combinations.push({ compute, front, domain: 'blog.example.com', ...zone });
    }
  }
  for (const context of combinations) {
    // synthIn's app.synth() throws on any unacknowledged cdk-nag finding.
    assert.doesNotThrow(() => synthIn('eu-west-1', context), JSON.stringify(context));
  }
  assert.throws(() => synth({ compute: 'ecs', front: 'apigateway' }), /front=apigateway/);
  assert.throws(() => synth({ compute: 'lambda', front: 'alb' }), /front=alb/);
});

test('the events function writes the site bucket, and only the paths the generator owns', () => {
  // The paths are the generator's own list (src/site/mod.rs).
  const source = fs.readFileSync(path.join(repoRoot(), 'src', 'site', 'mod.rs'), 'utf8');
  const declared = source.match(/pub const GENERATED: \[&str; \d+\] = \[([^\]]*)\]/)![1];
  assert.deepEqual([...declared.matchAll(/"([^"]+)"/g)].map((m) => m[1]), SITE_PATHS);
  for (const template of [lambdaShape, ecsShape]) {
    const site = Object.keys(template.findResources('AWS::S3::Bucket')).find((id) => id.includes('Site'))!;
    const statements = resources(template, 'AWS::IAM::Policy').flatMap((p) =>
      p.Properties.PolicyDocument.Statement.map((s: any) => ({ ...s, roles: JSON.stringify(p.Properties.Roles) })),
    );
    const onSite = statements.filter((s: any) => JSON.stringify(s.Resource).includes(site));
    assert.ok(onSite.length >= 2, 'statements on the site bucket');
    for (const statement of onSite) {
      assert.match(statement.roles, /EventsFunctionRole/, 'only the events function touches the site');
    }
    const pages = onSite.find((s: any) => s.Sid === 'SitePages');
    assert.deepEqual(pages.Action, ['s3:PutObject', 's3:DeleteObject']);
    const written = JSON.stringify(pages.Resource);
    for (const owned of ['/posts/*', '/page/*', '/index.html', '/feed.xml']) assert.ok(written.includes(owned), owned);
    assert.ok(!written.includes('"/*"'), 'not the whole bucket');
    const list = onSite.find((s: any) => s.Sid === 'ListSitePages');
    assert.deepEqual(list.Condition.StringEquals['s3:prefix'], SITE_PATHS);
    const env = resources(template, 'AWS::Lambda::Function').find(
      (f) => f.Properties.Environment?.Variables?.APP_LAMBDA_HANDLER === 'events',
    )!.Properties.Environment.Variables;
    assert.match(JSON.stringify(env.APP_SITE_BUCKET), new RegExp(site));
  }
});
