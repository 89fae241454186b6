// Shapes of what crosses the simulator's boundary: content types, the /start body, token-endpoint forms,
// and the JSON the API answers with. Types are inferred from the schemas.
import { z } from 'zod';

export const contentTypes = ['Audit.AzureActiveDirectory', 'Audit.Exchange', 'Audit.SharePoint', 'Audit.General', 'DLP.All'] as const;
export const ContentTypeSchema = z.enum(contentTypes);
export type ContentType = z.infer<typeof ContentTypeSchema>;

export const PermissionSchema = z.enum(['ActivityFeed.Read', 'ActivityFeed.ReadDlp']);
export type Permission = z.infer<typeof PermissionSchema>;

// Unknown fields are ignored like a lenient server would; `expiration` may be "", null or a datetime (§2.1).
export const StartBodySchema = z.object({
  webhook: z
    .object({
      address: z.string(),
      authId: z.string().optional(),
      expiration: z.string().nullable().optional(),
    })
    .optional(),
});
export type StartBody = z.infer<typeof StartBodySchema>;

// Client-credentials grant, v2 (`scope`) or v1 (`resource`), with a secret or a certificate assertion.
export const TokenFormSchema = z.object({
  grant_type: z.string(),
  client_id: z.string().min(1),
  scope: z.string().optional(),
  resource: z.string().optional(),
  client_secret: z.string().optional(),
  client_assertion_type: z.string().optional(),
  client_assertion: z.string().optional(),
});
export type TokenForm = z.infer<typeof TokenFormSchema>;

export const WebhookViewSchema = z.object({
  status: z.enum(['enabled', 'disabled', 'expired']),
  address: z.string(),
  authId: z.string().optional(),
  expiration: z.string().nullable(),
});
export type WebhookView = z.infer<typeof WebhookViewSchema>;

export const SubscriptionViewSchema = z.object({
  contentType: ContentTypeSchema,
  status: z.enum(['enabled', 'disabled']),
  webhook: WebhookViewSchema.nullable(),
});
export type SubscriptionView = z.infer<typeof SubscriptionViewSchema>;

export const PublishedContentSchema = z.object({
  contentType: ContentTypeSchema,
  contentId: z.string(),
  contentUri: z.string(),
  contentCreated: z.string(),
  contentExpiration: z.string(),
});
export type PublishedContent = z.infer<typeof PublishedContentSchema>;

export const NotificationSchema = PublishedContentSchema.extend({ tenantId: z.string(), clientId: z.string() });
export type Notification = z.infer<typeof NotificationSchema>;

export const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
