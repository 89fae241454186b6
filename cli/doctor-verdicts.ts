// What an audit log failure means for the admin, by AF code or by the API's message: the reference says a tenant
// without unified audit logging answers "...DataServiceException: Tenant <id> does not exist", whatever the code.
export interface Verdict {
  meaning: string;
  /** Replaces the error table's fix when the message tells more than the code. */
  fix?: string;
}

const auditingOff: Verdict = {
  meaning: 'the audit log says the tenant does not exist: unified audit logging is not enabled',
  fix: 'turn on auditing in Microsoft Purview (Audit > Start recording); it can take up to 60 minutes to take effect',
};

const byCode: Readonly<Record<string, Verdict>> = {
  AF10001: { meaning: 'missing permission ActivityFeed.Read or admin consent' },
  UNAUTHORIZED: { meaning: 'the API refused the token: missing admin consent, or the wrong cloud' },
  AF20010: { meaning: 'wrong tenant: the token was issued for another tenant' },
  AF20011: { meaning: 'the tenant does not exist for the audit log: auditing is not enabled, or the tenant GUID is wrong' },
  AF20012: { meaning: 'the tenant is misconfigured: auditing is not enabled' },
  AF20013: { meaning: 'the tenant id is not a GUID' },
};

export function auditLogVerdict(code: string, apiMessage: string | undefined): Verdict | undefined {
  if (apiMessage !== undefined && /Tenant \S+ does not exist/i.test(apiMessage)) return auditingOff;
  return byCode[code];
}
