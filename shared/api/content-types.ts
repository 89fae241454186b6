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
