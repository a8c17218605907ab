#!/usr/bin/env node
/**
 * `cdk synth` / `cdk deploy` entry point. Context (cdk.json, or -c name=value):
 *   compute         lambda (default) | ecs
 *   mailFrom        the sender address; its domain becomes the SES identity
 *   sesIdentity     a domain or address to verify instead
 *   production      true: retain data, deletion protection
 *   replicaRegions  comma-separated regions for global-table replicas
 *   corsOrigins     comma-separated origins allowed to upload from a browser
 *   bootstrapDir    where `cargo lambda build --release --arm64` left bootstrap
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AtriumStack, AtriumProps, Compute } from '../lib/atrium-stack';

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
  const region = process.env.CDK_DEFAULT_REGION;
  const replicaRegions = list('replicaRegions');
  return {
    compute: compute as Compute,
    production: String(get('production')) === 'true',
    mailFrom: String(get('mailFrom') ?? 'noreply@example.com'),
    sesIdentity: get('sesIdentity'),
    replicaRegions,
    corsOrigins: list('corsOrigins').length ? list('corsOrigins') : ['*'],
    bootstrapDir: get('bootstrapDir'),
    // Global-table replicas need the stack's own region to be known.
    env: replicaRegions.length ? { account: process.env.CDK_DEFAULT_ACCOUNT, region } : undefined,
  };
}

export function buildApp(app: App): AtriumStack {
  const stack = new AtriumStack(app, 'Atrium', propsFrom(app));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

if (require.main === module) {
  buildApp(new App());
}
