/**
 * Synthesizes the app offline (no credentials, no Docker) in both compute
 * shapes and checks the templates: the table equals migrations/, identity,
 * storage, edge, compute, events, mail, least privilege, alarms, and that
 * cdk-nag's AwsSolutions checks pass with every finding acknowledged.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../bin/atrium';
import { latestTable } from '../lib/repo';
import { knownVariables, serviceEnvironment } from '../lib/environment';

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

test('the events function reads only subscriber INSERTs, bisects, caps retries and age, and keeps failures', () => {
  for (const template of [lambdaShape, ecsShape]) {
    const [mapping] = resources(template, 'AWS::Lambda::EventSourceMapping');
    const props = mapping.Properties;
    assert.equal(props.BisectBatchOnFunctionError, true);
    assert.equal(props.MaximumRetryAttempts, 3);
    assert.equal(props.MaximumRecordAgeInSeconds, 21600);
    assert.deepEqual(props.FunctionResponseTypes, ['ReportBatchItemFailures']);
    assert.ok(props.DestinationConfig.OnFailure.Destination);
    const pattern = JSON.parse(props.FilterCriteria.Filters[0].Pattern);
    assert.deepEqual(pattern, { eventName: ['INSERT'], dynamodb: { Keys: { SK: { S: ['SUB'] } } } });
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
  // Containers expose /metrics instead of writing EMF: no empty graphs.
  const ecs = body(ecsShape);
  assert.ok(ecs.includes('alarm') && !ecs.includes('CacheHits'));
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
