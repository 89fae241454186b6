// The five feeds of the Management Activity API (reference §2, enums.json ContentTypes).
import { z } from 'zod';

export const contentTypes = [
  'Audit.AzureActiveDirectory',
  'Audit.Exchange',
  'Audit.SharePoint',
  'Audit.General',
  'DLP.All',
] as const;

export const ContentType = z.enum(contentTypes);
export type ContentType = z.infer<typeof ContentType>;

const byIdSpelling = new Map(contentTypes.map((t) => [t.toLowerCase().replace('.', '_'), t] as const));

/**
 * The content type a contentId names, if any. The API's ids carry it as `$audit_exchange$Audit_Exchange$` (reference
 * §2.8); ids are opaque otherwise, so an id naming none is fine, but one naming another type than its item says is odd.
 */
export function contentTypeNamedBy(contentId: string): ContentType | undefined {
  for (const part of contentId.split('$')) {
    const named = byIdSpelling.get(part.toLowerCase());
    if (named !== undefined) return named;
  }
  return undefined;
}
