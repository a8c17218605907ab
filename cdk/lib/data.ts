/**
 * The single DynamoDB table, built from `migrations/`, and its backups:
 * point-in-time recovery (35 days, to the second) and an AWS Backup plan
 * (daily, kept `backupDays`) whose recovery points outlive the stack.
 *
 * A restore always makes a new table. With context `table` (and
 * `tableStreamArn`) the stack adopts such a table instead of making one,
 * once `atrium migrate` has brought it back to the definition (README,
 * "Backups and restore").
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { acknowledge } from './nag';
import { TableDefinition, latestTable } from './repo';

export interface DataProps {
  /** Retain the table and turn on deletion protection. */
  readonly production: boolean;
  /** Regions for global-table replicas (the stack needs a concrete region). */
  readonly replicaRegions: string[];
  /** How many days the daily backups are kept. */
  readonly backupDays: number;
  /** An existing (restored) table to adopt instead of creating one. */
  readonly existingTable?: { name: string; streamArn: string };
}

const ATTRIBUTE_TYPES = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

export class Data extends Construct {
  readonly table: dynamodb.ITableV2;
  readonly definition: TableDefinition;
  readonly backups: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    this.definition = latestTable();
    this.table = props.existingTable
      ? dynamodb.TableV2.fromTableAttributes(this, 'Table', {
          tableName: props.existingTable.name,
          tableStreamArn: props.existingTable.streamArn,
          grantIndexPermissions: true,
        })
      : this.createTable(props);
    this.backups = this.backupPlan(props);
  }

  private createTable(props: DataProps): dynamodb.TableV2 {
    const def = this.definition;
    const key = (name: string) => ({ name, type: ATTRIBUTE_TYPES[def.attributes[name]] });
    if (def.billing_mode !== 'PAY_PER_REQUEST') throw new Error('only on-demand billing is modelled');
    return new dynamodb.TableV2(this, 'Table', {
      partitionKey: key(def.partition_key),
      sortKey: def.sort_key ? key(def.sort_key) : undefined,
      billing: dynamodb.Billing.onDemand(),
      globalSecondaryIndexes: def.global_secondary_indexes.map((index) => ({
        indexName: index.name,
        partitionKey: key(index.partition_key),
        sortKey: index.sort_key ? key(index.sort_key) : undefined,
        projectionType:
          index.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
      })),
      timeToLiveAttribute: def.ttl_attribute,
      dynamoStream: def.stream_view_type as dynamodb.StreamViewType | undefined,
      pointInTimeRecoverySpecification: {
        pointInTimeRecoveryEnabled: true,
        recoveryPeriodInDays: 35,
      },
      deletionProtection: props.production,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      replicas: props.replicaRegions.map((region) => ({ region })),
    });
  }

  /** Daily backups into a vault kept when the stack goes (it holds them). */
  private backupPlan(props: DataProps): backup.BackupPlan {
    const vault = new backup.BackupVault(this, 'Vault', { removalPolicy: RemovalPolicy.RETAIN });
    const plan = new backup.BackupPlan(this, 'Backups', {
      backupVault: vault,
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: 'Daily',
          scheduleExpression: events.Schedule.cron({ hour: '3', minute: '0' }),
          deleteAfter: Duration.days(props.backupDays),
        }),
      ],
    });
    const selection = plan.addSelection('Table', {
      resources: [backup.BackupResource.fromArn(this.table.tableArn)],
    });
    acknowledge(
      selection,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      'AWS Backup takes backups with the managed policy made for it.',
    );
    acknowledge(
      selection,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]',
      'AWS Backup restores with the managed policy made for it.',
    );
    return plan;
  }

  /** Throttled requests on the table, for alarms. */
  throttles() {
    return this.table.metric('ThrottledRequests', { statistic: 'Sum', period: Duration.minutes(5) });
  }
}
