/**
 * Alarms worth waking up for, sent to one SNS topic, and a dashboard that
 * shows them beside the traffic and, on Lambda, the service's own figures
 * (the CloudWatch Embedded Metric Format documents it writes to its log).
 */
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
  /** True when the service writes its figures as EMF (the Lambda shape). */
  readonly serviceMetrics: boolean;
}

/** The namespace and `Service` dimension of the service's EMF figures. */
const NAMESPACE = 'atrium';

export class Alarms extends Construct {
  readonly topic: sns.Topic;
  /** Every alarm, by its id: `ServerErrorRate`, `HttpErrors`, ... */
  readonly byName: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      enforceSSL: true,
      masterKey: kms.Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
    });
    const notify = new actions.SnsAction(this.topic);
    const alarms: cloudwatch.IAlarm[] = [];
    const alarm = (name: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const made = new cloudwatch.Alarm(this, name, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      made.addAlarmAction(notify);
      alarms.push(made);
      this.byName[name] = made;
    };

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
    dashboard(this, props, alarms);
  }
}

/** One of the figures the service writes under its `Service` dimension. */
function serviceMetric(name: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: NAMESPACE,
    metricName: name,
    dimensionsMap: { Service: NAMESPACE },
    statistic: 'Sum',
    period: Duration.minutes(5),
  });
}

/** One page: the alarms, the traffic, and the service's own figures. */
function dashboard(scope: Construct, props: AlarmsProps, alarms: cloudwatch.IAlarm[]): cloudwatch.Dashboard {
  const board = new cloudwatch.Dashboard(scope, 'Dashboard', { defaultInterval: Duration.hours(3) });
  board.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 }));
  board.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'API requests and 5xx',
      left: [props.requests],
      right: [props.serverErrors],
      width: 24,
    }),
  );
  // The events function is Lambda in every shape and writes these itself.
  board.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Reactions: events, mail and thumbnails',
      left: ['EventsHandled', 'EventsFailed'].map((name) => serviceMetric(name)),
      right: ['EmailsSent', 'ThumbnailsMade'].map((name) => serviceMetric(name)),
      width: 24,
    }),
  );
  if (!props.serviceMetrics) {
    return board;
  }
  // Every route and status the service has answered, found by SEARCH so
  // a new route needs no change here.
  const byRoute = (metric: string, statistic: string, label: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${NAMESPACE},Route,Status} MetricName="${metric}"', '${statistic}', 300)`,
      usingMetrics: {},
      label,
      period: Duration.minutes(5),
    });
  board.addWidgets(
    new cloudwatch.GraphWidget({ title: 'Requests by route and status', left: [byRoute('Requests', 'Sum', '')] }),
    new cloudwatch.GraphWidget({ title: 'Latency p99 (ms) by route and status', left: [byRoute('Latency', 'p99', '')] }),
  );
  board.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Read cache',
      left: ['CacheHits', 'CacheMisses', 'CacheBypassed', 'CacheEvictions'].map((name) => serviceMetric(name)),
    }),
    new cloudwatch.GraphWidget({
      title: 'Response cache',
      left: ['ResponseCacheHits', 'ResponseCacheMisses'].map((name) => serviceMetric(name)),
    }),
  );
  return board;
}
