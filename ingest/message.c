/* message.c - the lifecycle of the plain message model (pd_message_t).
 * Parsing lives in mime.c; this file has no GMime in it, so the store and
 * the threading code can build and free messages without the parser. */
#include "postdesk/mime.h"

void
pd_address_free (pd_address_t *addr)
{
  if (addr == NULL)
    return;
  g_free (addr->name);
  g_free (addr->address);
  g_free (addr);
}

void
pd_attachment_free (pd_attachment_t *att)
{
  if (att == NULL)
    return;
  g_free (att->filename);
  g_free (att->mime_type);
  if (att->content != NULL)
    g_bytes_unref (att->content);
  g_free (att);
}

void
pd_bounce_detail_free (pd_bounce_detail_t *detail)
{
  if (detail == NULL)
    return;
  g_free (detail->recipient);
  g_free (detail->status);
  g_free (detail->diagnostic);
  g_free (detail->original_message_id);
  g_free (detail);
}

static void
header_free (pd_header_t *h)
{
  g_free (h->name);
  g_free (h->value);
  g_free (h);
}

void
pd_message_free (pd_message_t *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->message_id);
  pd_address_free (msg->from);
  g_clear_pointer (&msg->to, g_ptr_array_unref);
  g_clear_pointer (&msg->cc, g_ptr_array_unref);
  g_clear_pointer (&msg->reply_to, g_ptr_array_unref);
  g_clear_pointer (&msg->envelope_to, g_ptr_array_unref);
  g_free (msg->subject);
  g_free (msg->in_reply_to);
  g_clear_pointer (&msg->references, g_ptr_array_unref);
  g_free (msg->body_text);
  g_clear_pointer (&msg->attachments, g_ptr_array_unref);
  g_clear_pointer (&msg->headers, g_ptr_array_unref);
  g_free (msg->bounced_message_id);
  pd_bounce_detail_free (msg->bounce_detail);
  g_free (msg);
}

pd_message_t *
pd_message_new (void)
{
  pd_message_t *msg = g_new0 (pd_message_t, 1);
  msg->to = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
  msg->cc = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
  msg->reply_to = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_address_free);
  msg->envelope_to = g_ptr_array_new_with_free_func (g_free);
  msg->references = g_ptr_array_new_with_free_func (g_free);
  msg->attachments = g_ptr_array_new_with_free_func ((GDestroyNotify) pd_attachment_free);
  msg->headers = g_ptr_array_new_with_free_func ((GDestroyNotify) header_free);
  msg->subject = g_strdup ("");
  msg->body_text = g_strdup ("");
  return msg;
}

const char *
pd_message_header (const pd_message_t *msg, const char *name)
{
  for (guint i = 0; msg->headers != NULL && i < msg->headers->len; i++)
    {
      const pd_header_t *h = g_ptr_array_index (msg->headers, i);
      if (g_ascii_strcasecmp (h->name, name) == 0)
        return h->value;
    }
  return NULL;
}

void
pd_message_add_header (pd_message_t *msg, const char *name, const char *value)
{
  pd_header_t *h = g_new (pd_header_t, 1);
  h->name = g_strdup (name);
  h->value = g_strdup (value);
  g_ptr_array_add (msg->headers, h);
}
