/* json.c - JSON text from json-glib trees, strict and exact. See json.h. */
#include "postdesk/json.h"

/* JSON text of one string, exact and strict. json-glib 1.6 writes U+001F
 * raw inside strings, which strict parsers reject, so postdesk writes JSON
 * itself: every character below U+0020 is escaped (RFC 8259 requires it),
 * and so are DEL and U+2028/U+2029, which are legal JSON but act on
 * terminals and JavaScript. The escaped string still decodes to exactly the
 * original text. Bytes that are not UTF-8 cannot be represented in JSON at
 * all; the parsers hand postdesk UTF-8, but should one slip through it
 * becomes U+FFFD rather than an invalid document. */
static void
write_json_string (GString *out, const char *s)
{
  g_autofree char *valid = g_utf8_validate (s, -1, NULL) ? NULL : g_utf8_make_valid (s, -1);
  if (valid != NULL)
    s = valid;
  g_string_append_c (out, '"');
  for (const char *p = s; *p != '\0'; p++)
    {
      unsigned char c = (unsigned char) *p;
      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        default:
          if (c < 0x20 || c == 0x7f)
            g_string_append_printf (out, "\\u%04x", c);
          else if (c == 0xe2 && (unsigned char) p[1] == 0x80 && ((unsigned char) p[2] == 0xa8 || (unsigned char) p[2] == 0xa9))
            {
              g_string_append_printf (out, "\\u%04x", (unsigned char) p[2] == 0xa8 ? 0x2028 : 0x2029);
              p += 2;
            }
          else
            g_string_append_c (out, (char) c);
        }
    }
  g_string_append_c (out, '"');
}

static void
indent (GString *out, bool pretty, guint depth)
{
  if (!pretty)
    return;
  g_string_append_c (out, '\n');
  for (guint i = 0; i < depth; i++)
    g_string_append (out, "  ");
}

/* Writes 'node', pretty-printed with two spaces per level when 'pretty',
 * else compact. */
static void
write_json_node (GString *out, JsonNode *node, bool pretty, guint depth)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      return;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          return;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          return;
        case G_TYPE_DOUBLE:
          {
            char buf[G_ASCII_DTOSTR_BUF_SIZE];
            g_string_append (out, g_ascii_dtostr (buf, sizeof buf, json_node_get_double (node)));
            return;
          }
        case G_TYPE_STRING:
          write_json_string (out, json_node_get_string (node));
          return;
        default:
          g_assert_not_reached ();
        }
    case JSON_NODE_ARRAY:
      {
        JsonArray *arr = json_node_get_array (node);
        guint n = json_array_get_length (arr);
        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            if (i > 0)
              g_string_append_c (out, ',');
            indent (out, pretty, depth + 1);
            write_json_node (out, json_array_get_element (arr, i), pretty, depth + 1);
          }
        if (n > 0)
          indent (out, pretty, depth);
        g_string_append_c (out, ']');
        return;
      }
    case JSON_NODE_OBJECT:
      {
        /* Members in the order they were added: the contract's order. */
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        bool first = true;
        g_string_append_c (out, '{');
        json_object_iter_init_ordered (&iter, json_node_get_object (node));
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            if (!first)
              g_string_append_c (out, ',');
            first = false;
            indent (out, pretty, depth + 1);
            write_json_string (out, name);
            g_string_append (out, pretty ? ": " : ":");
            write_json_node (out, member, pretty, depth + 1);
          }
        if (!first)
          indent (out, pretty, depth);
        g_string_append_c (out, '}');
        return;
      }
    }
}

void
pd_json_write (GString *out, JsonNode *node, bool pretty)
{
  write_json_node (out, node, pretty, 0);
}

char *
pd_json_pairs (const char *first_key, ...)
{
  g_autoptr (JsonObject) obj = json_object_new ();
  va_list ap;
  va_start (ap, first_key);
  for (const char *key = first_key; key != NULL; key = va_arg (ap, const char *))
    {
      const char *value = va_arg (ap, const char *);
      if (value != NULL)
        json_object_set_string_member (obj, key, value);
    }
  va_end (ap);
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, obj);
  return pd_json_to_text (node);
}

char *
pd_json_to_text (JsonNode *node)
{
  GString *out = g_string_new (NULL);
  write_json_node (out, node, false, 0);
  return g_string_free (out, FALSE);
}
