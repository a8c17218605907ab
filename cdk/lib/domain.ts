/**
 * A custom domain (context `domain`, with the Route 53 zone `hostedZoneId`
 * and `hostedZoneName`): the site and `/blog/*` at `https://{domain}`
 * through CloudFront, and the API at `https://api.{domain}`, all with ACM
 * certificates validated by DNS in the zone and TLS 1.2 at least.
 *
 * CloudFront takes certificates from us-east-1 only, so when the stack lives
 * elsewhere its certificate comes from a small stack there (`EdgeCertificate`).
 */
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';

export interface DomainSettings {
  /** The site's name, e.g. `blog.example.com`; the API is `api.` in front. */
  readonly name: string;
  readonly hostedZoneId: string;
  readonly hostedZoneName: string;
}

export function hostedZone(scope: Construct, settings: DomainSettings): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(scope, 'Zone', {
    hostedZoneId: settings.hostedZoneId,
    zoneName: settings.hostedZoneName,
  });
}

/** The API's own name. */
export function apiName(settings: DomainSettings): string {
  return `api.${settings.name}`;
}

/** The certificate CloudFront presents: in us-east-1, for the site's name. */
export class EdgeCertificate extends Construct {
  readonly certificate: acm.Certificate;

  constructor(scope: Construct, id: string, settings: DomainSettings) {
    super(scope, id);
    this.certificate = new acm.Certificate(this, 'Certificate', {
      domainName: settings.name,
      validation: acm.CertificateValidation.fromDns(hostedZone(this, settings)),
    });
  }
}

/** The zone, and the names in it. */
export class Domain extends Construct {
  readonly zone: route53.IHostedZone;

  constructor(scope: Construct, id: string, readonly settings: DomainSettings) {
    super(scope, id);
    this.zone = hostedZone(this, settings);
  }

  /** A regional certificate for `api.{domain}` (API Gateway, the ALB). */
  apiCertificate(): acm.Certificate {
    return new acm.Certificate(this, 'ApiCertificate', {
      domainName: apiName(this.settings),
      validation: acm.CertificateValidation.fromDns(this.zone),
    });
  }

  /** `name` (A and AAAA) as an alias of `target`. */
  alias(id: string, name: string, target: route53.IAliasRecordTarget) {
    const recordTarget = route53.RecordTarget.fromAlias(target);
    new route53.ARecord(this, `${id}A`, { zone: this.zone, recordName: name, target: recordTarget });
    new route53.AaaaRecord(this, `${id}Aaaa`, { zone: this.zone, recordName: name, target: recordTarget });
  }
}
