/**
 * Canary deploys of the Lambda functions. A deploy publishes a new version;
 * CodeDeploy moves the alias `live` to it in two steps (a share of traffic
 * first, all of it after the bake time) and moves it back on its own if any
 * of the given alarms fires meanwhile. Containers get the same safety from
 * the ECS deployment circuit breaker (see `EcsApi`).
 */
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as codedeploy from 'aws-cdk-lib/aws-codedeploy';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { acknowledge } from './nag';

export interface ReleaseProps {
  /** The alias `live` of each function, by name. */
  readonly aliases: Record<string, lambda.Alias>;
  /** Alarms that stop a deploy and roll it back. */
  readonly alarms: cloudwatch.IAlarm[];
  readonly config: codedeploy.ILambdaDeploymentConfig;
}

export class Release extends Construct {
  readonly groups: codedeploy.LambdaDeploymentGroup[] = [];

  constructor(scope: Construct, id: string, props: ReleaseProps) {
    super(scope, id);
    const application = new codedeploy.LambdaApplication(this, 'Application');
    for (const [name, alias] of Object.entries(props.aliases)) {
      const group = new codedeploy.LambdaDeploymentGroup(this, name, {
        application,
        alias,
        deploymentConfig: props.config,
        alarms: props.alarms,
        autoRollback: { failedDeployment: true, stoppedDeployment: true, deploymentInAlarm: true },
      });
      acknowledge(
        group,
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSCodeDeployRoleForLambdaLimited]',
        'CodeDeploy shifts aliases with the managed policy made for it, limited to functions.',
      );
      this.groups.push(group);
    }
  }
}

/** A canary config from context `canary` (`10percent5minutes`, the
 *  default), or all at once with `allatonce` (for a dev stack). */
export function canaryConfig(name: string): codedeploy.ILambdaDeploymentConfig {
  const configs: Record<string, codedeploy.ILambdaDeploymentConfig> = {
    '10percent5minutes': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_5MINUTES,
    '10percent10minutes': codedeploy.LambdaDeploymentConfig.CANARY_10PERCENT_10MINUTES,
    linear10percentevery1minute: codedeploy.LambdaDeploymentConfig.LINEAR_10PERCENT_EVERY_1MINUTE,
    allatonce: codedeploy.LambdaDeploymentConfig.ALL_AT_ONCE,
  };
  const config = configs[name];
  if (!config) {
    throw new Error(`context canary=${name}: use one of ${Object.keys(configs).join(', ')}`);
  }
  return config;
}
