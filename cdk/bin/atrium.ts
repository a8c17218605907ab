#!/usr/bin/env node
/**
 * `cdk synth` / `cdk deploy` entry point. Context (cdk.json, or -c name=value):
 *   compute         lambda (default) | ecs
 *   front           url (default): a Function URL | apigateway: a REST API (Lambda only)
 *   stage           the API Gateway stage (prod)
 *   apiRate         API Gateway requests per second, all callers together (100)
 *   apiBurst        API Gateway burst (200)
 *   blogCacheSeconds  how long API Gateway caches public blog GETs (60)
 *   apiKey          true: an API key, required on the authenticated routes
 *   backupDays      how long daily backups are kept (35)
 *   table, tableStreamArn  adopt this (restored, migrated) table instead of creating one
 *   domain          the site's name (blog.example.com); the API becomes api.{domain}
 *   hostedZoneId, hostedZoneName  the Route 53 zone holding it (both required with domain)
 *   canary          how Lambda deploys shift traffic: 10percent5minutes (default),
 *                   10percent10minutes, linear10percentevery1minute, allatonce
 *   mailFrom        the sender address; its domain becomes the SES identity
 *   sesIdentity     a domain or address to verify instead
 *   production      true: retain data, deletion protection
 *   replicaRegions  comma-separated regions for global-table replicas
 *   corsOrigins     comma-separated origins allowed to upload from a browser
 *   bootstrapDir    where `cargo lambda build --release --arm64` left bootstrap
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AtriumStack, AtriumProps, Compute, Front } from '../lib/atrium-stack';
import { DomainSettings, EdgeCertificate } from '../lib/domain';

export function propsFrom(app: App): AtriumProps {
  const get = (name: string) => app.node.tryGetContext(name);
  const list = (name: string) =>
    String(get(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const compute = String(get('compute') ?? 'lambda');
  if (compute !== 'lambda' && compute !== 'ecs') {
    throw new Error(`context compute=${compute}: use lambda or ecs`);
  }
  const front = String(get('front') ?? 'url');
  if (front !== 'url' && front !== 'apigateway') {
    throw new Error(`context front=${front}: use url or apigateway`);
  }
  if (front === 'apigateway' && compute !== 'lambda') {
    throw new Error('context front=apigateway fronts the Lambda API: use it with compute=lambda');
  }
  const count = (name: string, fallback: number) => {
    const value = Number(get(name) ?? fallback);
    if (!Number.isInteger(value) || value < 0) throw new Error(`context ${name}=${get(name)}: a whole number`);
    return value;
  };
  const region = process.env.CDK_DEFAULT_REGION;
  const replicaRegions = list('replicaRegions');
  return {
    compute: compute as Compute,
    front: front as Front,
    gateway: {
      stageName: String(get('stage') ?? 'prod'),
      rateLimit: count('apiRate', 100),
      burstLimit: count('apiBurst', 200),
      blogCacheSeconds: count('blogCacheSeconds', 60),
      apiKey: String(get('apiKey')) === 'true',
    },
    canary: String(get('canary') ?? '10percent5minutes'),
    backupDays: count('backupDays', 35),
    existingTable: existingTable(get('table'), get('tableStreamArn')),
    domain: domainSettings(get('domain'), get('hostedZoneId'), get('hostedZoneName')),
    production: String(get('production')) === 'true',
    mailFrom: String(get('mailFrom') ?? 'noreply@example.com'),
    sesIdentity: get('sesIdentity'),
    replicaRegions,
    corsOrigins: list('corsOrigins').length ? list('corsOrigins') : ['*'],
    bootstrapDir: get('bootstrapDir'),
    // Global-table replicas and a certificate in another region need the
    // stack's own region to be known.
    env: replicaRegions.length || get('domain') ? { account: process.env.CDK_DEFAULT_ACCOUNT, region } : undefined,
  };
}

function existingTable(name?: string, streamArn?: string) {
  if (!name) return undefined;
  if (!streamArn) {
    throw new Error('context table needs tableStreamArn too (the events function reads the stream)');
  }
  return { name: String(name), streamArn: String(streamArn) };
}

function domainSettings(name?: string, hostedZoneId?: string, hostedZoneName?: string): DomainSettings | undefined {
  if (!name) return undefined;
  if (!hostedZoneId || !hostedZoneName) {
    throw new Error('context domain needs hostedZoneId and hostedZoneName (the Route 53 zone that holds it)');
  }
  return { name: String(name), hostedZoneId: String(hostedZoneId), hostedZoneName: String(hostedZoneName) };
}

/** CloudFront takes certificates from us-east-1 only: when the stack is
 *  elsewhere, a small stack there makes it. */
function edgeCertificate(app: App, props: AtriumProps) {
  if (!props.domain) return {};
  const region = props.env?.region;
  if (!region) throw new Error('context domain needs the stack region: set CDK_DEFAULT_REGION');
  if (region === 'us-east-1') return {};
  const stack = new Stack(app, 'AtriumEdgeCertificate', {
    env: { account: props.env?.account, region: 'us-east-1' },
    crossRegionReferences: true,
  });
  return {
    crossRegionReferences: true,
    edgeCertificate: new EdgeCertificate(stack, 'EdgeCertificate', props.domain).certificate,
  };
}

export function buildApp(app: App): AtriumStack {
  const props = propsFrom(app);
  const stack = new AtriumStack(app, 'Atrium', { ...props, ...edgeCertificate(app, props) });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) {
  buildApp(new App());
}
