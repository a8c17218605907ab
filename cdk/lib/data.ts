/** The single DynamoDB table, built from `migrations/`. */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TableDefinition, latestTable } from './repo';

export interface DataProps {
  /** Retain the table and turn on deletion protection. */
  readonly production: boolean;
  /** Regions for global-table replicas (the stack needs a concrete region). */
  readonly replicaRegions: string[];
}

const ATTRIBUTE_TYPES = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

export class Data extends Construct {
  readonly table: dynamodb.TableV2;
  readonly definition: TableDefinition;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const def = (this.definition = latestTable());
    const key = (name: string) => ({ name, type: ATTRIBUTE_TYPES[def.attributes[name]] });
    if (def.billing_mode !== 'PAY_PER_REQUEST') throw new Error('only on-demand billing is modelled');
    this.table = new dynamodb.TableV2(this, 'Table', {
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

  /** Throttled requests on the table, for alarms. */
  throttles() {
    return this.table.metric('ThrottledRequests', { statistic: 'Sum', period: Duration.minutes(5) });
  }
}
