/**
 * Who the users are: a Cognito user pool (email sign-in), the mobile app's
 * client, the `authors` group, and an identity pool whose signed-in users
 * get temporary AWS credentials for their own S3 folder only.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeWildcardBelow } from './nag';

/** The folder of the signed-in user, as the API also names it (`users/{sub}/`). */
export const OWN_FOLDER = 'users/${aws:PrincipalTag/sub}/';

export interface IdentityProps {
  readonly production: boolean;
  /** The bucket holding `users/{sub}/` folders. */
  readonly uploads: s3.IBucket;
}

export class Identity extends Construct {
  readonly userPool: cognito.UserPool;
  readonly appClient: cognito.UserPoolClient;
  readonly authenticatedRole: iam.Role;

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    this.userPool = new cognito.UserPool(this, 'Users', {
      signInAliases: { email: true },
      selfSignUpEnabled: true,
      autoVerify: { email: true },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: props.production,
      removalPolicy: props.production ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    acknowledge(this.userPool, 'COG2', 'MFA is optional by design: the to-do app lets each user choose TOTP.');
    acknowledge(this.userPool, 'COG8', 'The Plus feature plan is a per-user cost the deployer opts into.');
    acknowledge(this.userPool, 'COG3', 'Threat protection needs the Plus feature plan, a per-user cost the deployer opts into.');
    this.appClient = this.userPool.addClient('MobileApp', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      enableTokenRevocation: true,
    });
    new cognito.CfnUserPoolGroup(this, 'Authors', {
      userPoolId: this.userPool.userPoolId,
      groupName: 'authors',
      description: 'May write blog posts and change their own',
    });
    new cognito.CfnUserPoolGroup(this, 'Editors', {
      userPoolId: this.userPool.userPoolId,
      groupName: 'editors',
      description: "May write blog posts and change anyone's",
    });
    this.authenticatedRole = this.identityPool(props.uploads);
  }

  /** The identity pool and the role its signed-in users assume. */
  private identityPool(uploads: s3.IBucket): iam.Role {
    const provider = this.userPool.userPoolProviderName;
    const pool = new cognito.CfnIdentityPool(this, 'IdentityPool', {
      allowUnauthenticatedIdentities: false,
      cognitoIdentityProviders: [
        { clientId: this.appClient.userPoolClientId, providerName: provider, serverSideTokenCheck: true },
      ],
    });
    // The user pool's `sub` claim becomes the session tag `sub`.
    new cognito.CfnIdentityPoolPrincipalTag(this, 'SubTag', {
      identityPoolId: pool.ref,
      identityProviderName: provider,
      principalTags: { sub: 'sub' },
      useDefaults: false,
    });
    const role = new iam.Role(this, 'SignedInUser', {
      description: 'Signed-in app users: their own S3 folder, nothing else',
      assumedBy: new iam.FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': pool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ).withSessionTags(),
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [uploads.arnForObjects(`${OWN_FOLDER}*`)],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [uploads.bucketArn],
        conditions: { StringLike: { 's3:prefix': [OWN_FOLDER, `${OWN_FOLDER}*`] } },
      }),
    );
    acknowledgeWildcardBelow(
      role,
      uploads,
      `/${OWN_FOLDER.replace('${', '<').replace('}', '>')}*`,
      'Below users/${aws:PrincipalTag/sub}/: each signed-in user reaches only their own folder.',
    );
    new cognito.CfnIdentityPoolRoleAttachment(this, 'Roles', {
      identityPoolId: pool.ref,
      roles: { authenticated: role.roleArn },
    });
    return role;
  }
}
