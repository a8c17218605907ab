/**
 * Acknowledging cdk-nag AwsSolutions findings, always with a reason. cdk-nag
 * 3 matches a finding's exact id, so a wildcard finding is acknowledged for
 * the one resource pattern it names, not for the rule as a whole.
 */
import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** `rule` as cdk-nag names it: `COG2`, or `IAM4[Policy::...]` for one finding. */
export function acknowledge(scope: IConstruct, rule: string, reason: string) {
  Validations.of(scope).acknowledge({ id: `AwsSolutions::AwsSolutions-${rule}`, reason });
}

/** Acknowledges IAM5 for `<resource.Arn>{suffix}` (e.g. `/users/*`) in `scope`'s policies. */
export function acknowledgeWildcardBelow(
  scope: IConstruct,
  resource: IConstruct,
  suffix: string,
  reason: string,
) {
  const cfn = resource.node.defaultChild as CfnElement;
  const stack = Stack.of(scope);
  const logicalId = stack.resolve(stack.getLogicalId(cfn)) as string;
  acknowledge(scope, `IAM5[Resource::<${logicalId}.Arn>${suffix}]`, reason);
}
