/**
 * What the service's own code may do, spelled out action by action: the
 * table and its index, the `users/` and `thumbs/` prefixes of the uploads
 * bucket, and sending from its SES identity. Written by hand rather than
 * with `grant*()` helpers, which add wildcard actions (`s3:GetObject*`).
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';

/** Key prefixes the service writes: users' files and their thumbnails. */
export const SERVICE_PREFIXES = ['users/', 'thumbs/'];

/**
 * What the site generator owns in the site bucket (`GENERATED` in
 * src/site/mod.rs; a test keeps the two equal): it writes and deletes these
 * only, so anything else a deployer puts in the bucket is left alone.
 */
export const SITE_PATHS = [
  'index.html',
  'page/',
  'posts/',
  'assets/',
  'media/',
  'feed.xml',
  'sitemap.xml',
  'robots.txt',
  '404.html',
  'subscribed/',
];

/** The events function's extra rights: writing the generated site. */
export function siteStatements(site: s3.IBucket): iam.PolicyStatement[] {
  const objects = SITE_PATHS.map((path) => site.arnForObjects(path.endsWith('/') ? `${path}*` : path));
  return [
    new iam.PolicyStatement({
      sid: 'SitePages',
      actions: ['s3:PutObject', 's3:DeleteObject'],
      resources: objects,
    }),
    new iam.PolicyStatement({
      sid: 'ListSitePages',
      actions: ['s3:ListBucket'],
      resources: [site.bucketArn],
      conditions: { StringEquals: { 's3:prefix': SITE_PATHS } },
    }),
  ];
}

export interface ServiceResources {
  readonly table: dynamodb.ITable;
  readonly indexNames: string[];
  readonly uploads: s3.IBucket;
  readonly mailIdentityArn: string;
  readonly mailConfigurationSetArn: string;
}

export function serviceStatements(r: ServiceResources): iam.PolicyStatement[] {
  return [
    new iam.PolicyStatement({
      sid: 'Table',
      actions: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
        'dynamodb:ConditionCheckItem',
        'dynamodb:Query',
        'dynamodb:DescribeTable',
      ],
      resources: [r.table.tableArn, ...r.indexNames.map((name) => `${r.table.tableArn}/index/${name}`)],
    }),
    new iam.PolicyStatement({
      sid: 'Files',
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: SERVICE_PREFIXES.map((prefix) => r.uploads.arnForObjects(`${prefix}*`)),
    }),
    new iam.PolicyStatement({
      sid: 'ListFiles',
      actions: ['s3:ListBucket'],
      resources: [r.uploads.bucketArn],
      conditions: { StringLike: { 's3:prefix': SERVICE_PREFIXES.map((prefix) => `${prefix}*`) } },
    }),
    new iam.PolicyStatement({
      sid: 'Mail',
      actions: ['ses:SendEmail', 'ses:SendRawEmail'],
      resources: [r.mailIdentityArn, r.mailConfigurationSetArn],
    }),
  ];
}
