/** Alarms worth waking up for, sent to one SNS topic. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface AlarmsProps {
  /** 5xx answers and all requests of the API, to alarm on their ratio. */
  readonly serverErrors: cloudwatch.IMetric;
  readonly requests: cloudwatch.IMetric;
  readonly tableThrottles: cloudwatch.IMetric;
  /** Errors and throttles of each function, by name. */
  readonly functionErrors: Record<string, cloudwatch.IMetric>;
  readonly functionThrottles: Record<string, cloudwatch.IMetric>;
  readonly failedEvents: cloudwatch.IMetric;
}

export class Alarms extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });
    const notify = new actions.SnsAction(this.topic);
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) =>
      new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      }).addAlarmAction(notify);

    const errorRate = new cloudwatch.MathExpression({
      expression: '100 * errors / MAX([requests, 1])',
      usingMetrics: { errors: props.serverErrors, requests: props.requests },
      period: Duration.minutes(5),
      label: 'API 5xx %',
    });
    alarm('ServerErrorRate', errorRate, 1, 'More than 1% of API requests answered 5xx');
    alarm('TableThrottles', props.tableThrottles, 0, 'DynamoDB throttled requests');
    for (const [name, metric] of Object.entries(props.functionErrors)) {
      alarm(`${name}Errors`, metric, 0, `${name} function errors`);
    }
    for (const [name, metric] of Object.entries(props.functionThrottles)) {
      alarm(`${name}Throttles`, metric, 0, `${name} function throttles`);
    }
    alarm('FailedEvents', props.failedEvents, 0, 'Stream records sent to the on-failure queue');
  }
}
