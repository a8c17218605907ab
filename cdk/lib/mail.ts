/** The SES identity the service sends from, with a configuration set. */
import * as ses from 'aws-cdk-lib/aws-ses';
import { Arn, Stack } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface MailProps {
  /** The sender address (`APP_MAIL_FROM`). */
  readonly from: string;
  /** What SES verifies: a domain (default: the sender's) or an address. */
  readonly identity?: string;
}

export class Mail extends Construct {
  readonly from: string;
  readonly identityArn: string;
  readonly configurationSetArn: string;

  constructor(scope: Construct, id: string, props: MailProps) {
    super(scope, id);
    this.from = props.from;
    const name = props.identity ?? props.from.split('@')[1];
    if (!name) throw new Error(`mailFrom "${props.from}" is not an email address`);
    const configurationSet = new ses.ConfigurationSet(this, 'Configuration', {
      reputationMetrics: true,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    const identity = new ses.EmailIdentity(this, 'Identity', {
      identity: name.includes('@') ? ses.Identity.email(name) : ses.Identity.domain(name),
      configurationSet,
    });
    const stack = Stack.of(this);
    this.identityArn = stack.formatArn({
      service: 'ses',
      resource: 'identity',
      resourceName: identity.emailIdentityName,
    });
    this.configurationSetArn = Arn.format(
      { service: 'ses', resource: 'configuration-set', resourceName: configurationSet.configurationSetName },
      stack,
    );
  }
}
