/* gen-corpus.c - writes a deterministic synthetic support-mail corpus as a
 * Maildir, for the benchmark.
 *
 *   gen-corpus [--seed N] [--count N] [--stats] DIR
 *
 * The corpus is shaped like the inbox of a help desk: about 70% of the
 * messages open a new conversation and 30% follow up on an earlier message
 * of the corpus through In-Reply-To and/or References; a quarter carry an
 * HTML alternative, about 8% carry base64 attachments of up to ~200 KB, and
 * about 10% have an RFC 2047 encoded-word subject. Bodies are built from
 * support phrases, log excerpts, quoted history and signatures so that the
 * parser and the body extraction do the work they do on real mail.
 *
 * The same seed always gives byte-identical files: every random choice comes
 * from our own splitmix64 generator (never rand() or the clock), and no
 * choice depends on --count, so a smaller corpus is an exact prefix of a
 * larger one made with the same seed. That lets the benchmark compare peak
 * memory across corpus sizes on the same messages.
 *
 * Only GLib is used and nothing is ever read from the network. Sizes are
 * printed in binary units (1 KB = 1024 bytes, 1 MB = 1024 KB), the unit the
 * kernel uses for peak RSS, so every figure of the benchmark agrees.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_CUSTOMERS 400
#define DEFAULT_COUNT 10000
#define DEFAULT_SEED 1
/* The first message is dated Monday 2025-01-06 08:00 UTC; each next one
 * follows after 0..699 seconds, so 10,000 messages span about six weeks. */
#define BASE_TIME G_GINT64_CONSTANT (1736150400)
#define MAX_STEP_SECONDS 700
/* A References header keeps the root and the most recent ancestors only,
 * as mail clients do, so that long threads do not grow without bound. */
#define MAX_REFERENCES 10

/* ---- the random number generator ---------------------------------------- */

/* splitmix64: tiny, fast, and good enough for test data; above all its
 * output depends on nothing but the seed. */
typedef struct {
  guint64 state;
} rng_t;

static guint64
rng_next (rng_t *r)
{
  guint64 z = (r->state += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* A number in [0, n). The multiply-and-shift keeps the bias far below
 * anything a benchmark could notice, without a division per call. */
static guint32
rng_below (rng_t *r, guint32 n)
{
  return (guint32) (((rng_next (r) >> 32) * (guint64) n) >> 32);
}

/* A number in [lo, hi], both included. */
static guint32
rng_range (rng_t *r, guint32 lo, guint32 hi)
{
  return lo + rng_below (r, hi - lo + 1);
}

/* True with the given chance in percent. */
static gboolean
rng_percent (rng_t *r, guint32 percent)
{
  return rng_below (r, 100) < percent;
}

#define PICK(r, array) ((array)[rng_below ((r), G_N_ELEMENTS (array))])

/* C leaves the order in which a call's arguments are evaluated to the
 * compiler, so two draws in one argument list could come out swapped under
 * another compiler or optimisation level and change the corpus. Every draw
 * is therefore made in its own statement, in a fixed order, before it is
 * used; at most one draw appears in any one call's arguments. */

/* ---- word lists ------------------------------------------------------------ */

static const char *const first_names[] = {
  "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Greta", "Hugo", "Ines",
  "Jonas", "Karin", "Lukas", "Marie", "Nico", "Olga", "Paul", "Quentin",
  "Rosa", "Stefan", "Tanja", "Ulrich", "Vera", "Walter", "Yuki", "Zoe",
  "Amelie", "Bruno", "Chloe", "Diego", "Emma", "Hiroshi", "Isabel", "Javier",
  "Keiko", "Louis", "Lucia", "Mateo", "Nina", "Oscar", "Pierre", "Sofia",
  "Thomas", "Camille", "Sarah", "Michael", "Laura", "James", "Priya",
};

static const char *const last_names[] = {
  "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner",
  "Becker", "Hoffmann", "Koch", "Martin", "Bernard", "Dubois", "Laurent",
  "Moreau", "Garcia", "Fernandez", "Lopez", "Martinez", "Sanchez", "Tanaka",
  "Suzuki", "Sato", "Watanabe", "Smith", "Johnson", "Brown", "Taylor",
  "Wilson", "Evans", "Rossi", "Bianchi", "Novak", "Kowalski", "Jansen",
  "Nielsen", "Andersson", "OBrien", "Patel", "Kim",
};

/* Public mail providers first: a share of customers write from them. */
#define N_PUBLIC_DOMAINS 10
static const char *const domains[] = {
  "gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "orange.fr",
  "free.fr", "yahoo.co.jp", "hotmail.es", "icloud.com",
  "acme-logistics.example", "globex.example", "initech.example",
  "umbrella-health.example", "stark-industries.example", "wayne-ent.example",
  "northwind.example", "contoso.example", "fabrikam.example",
  "tailspin-toys.example", "adventure-works.example", "wingtip.example",
  "litware.example", "proseware.example", "lucerne-publishing.example",
  "fourth-coffee.example", "coho-winery.example", "woodgrove-bank.example",
  "blue-yonder.example", "margies-travel.example", "alpine-ski.example",
  "southridge-video.example", "trey-research.example", "vanarsdel.example",
  "humongous-insurance.example", "graphic-design.example", "datum.example",
  "baumarkt-nord.example", "stadtwerke-sued.example", "kanzlei-berg.example",
  "logistik-rhein.example", "boulangerie-paris.example", "mutuelle-ouest.example",
  "transports-leroy.example", "cabinet-morel.example", "hotel-sol.example",
  "clinica-norte.example", "editorial-luna.example", "construcciones-rio.example",
  "tokyo-trading.example", "osaka-denki.example", "kyoto-soft.example",
  "nordic-fish.example", "alpen-bau.example", "euro-freight.example",
  "medtech-labs.example", "greenfield-farms.example", "harbor-shipping.example",
  "summit-analytics.example", "riverside-schools.example",
};

static const char *const titles[] = {
  "IT Administrator", "Office Manager", "Head of Operations", "Accountant",
  "System Engineer", "Team Lead Logistics", "CTO", "Project Manager",
  "Customer Service", "Managing Director",
};

static const char *const products[] = {
  "the sync server", "the mobile app", "the web dashboard",
  "the Outlook add-in", "the REST API", "the desktop client",
  "the reporting module", "the backup agent", "the invoicing module",
  "the single sign-on integration",
};

static const char *const features[] = {
  "the nightly export", "the CSV import", "two-factor login",
  "the calendar sync", "PDF invoices", "user provisioning", "the audit log",
  "email notifications", "the search index", "scheduled reports",
};

/* Subjects of new conversations; {E} and {N} are filled in with numbers. */
static const char *const ascii_subjects[] = {
  "Export fails with error {E}",
  "Cannot log in after password reset",
  "Question about invoice {N}",
  "Sync stopped working since the last update",
  "Urgent: production system down",
  "How do I add a new user?",
  "License renewal for order {N}",
  "Slow performance on the dashboard",
  "Error {E} when importing CSV",
  "Feature request: dark mode",
  "Data missing after migration",
  "Two-factor authentication not working",
  "Reports show wrong totals",
  "Backup job failed last night",
  "API returns HTTP 500 on /v2/orders",
  "Calendar entries duplicated",
  "Need help configuring single sign-on",
  "Account locked",
  "Mobile app crashes on start",
  "Wrong VAT on invoice {N}",
  "Cannot attach files larger than 10 MB",
  "Notification emails not arriving",
  "Upgrade to version {V} failed",
  "Request for a copy of our data",
  "Printer output is cut off",
};

/* Subjects in other languages, written as UTF-8; they are the ones sent as
 * RFC 2047 encoded words. 'b_only' marks scripts where Q encoding would be
 * nearly all escapes, so mail clients choose B. */
typedef struct {
  const char *text;
  gboolean b_only;
  guint lang;  /* index into intl_lines[] */
} intl_subject_t;

static const intl_subject_t intl_subjects[] = {
  { "Fehler beim Export \xe2\x80\x93 dringend", FALSE, 0 },
  { "St\xc3\xb6rung: Synchronisation l\xc3\xa4uft nicht mehr", FALSE, 0 },
  { "Frage zur Rechnung Nr. 4821 f\xc3\xbcr M\xc3\xa4rz", FALSE, 0 },
  { "Zugang gesperrt \xe2\x80\x93 bitte um R\xc3\xbc" "ckruf", FALSE, 0 },
  { "Probl\xc3\xa8me de connexion apr\xc3\xa8s la mise \xc3\xa0 jour", FALSE, 1 },
  { "Facture erron\xc3\xa9" "e pour la commande n\xc2\xb0 7313", FALSE, 1 },
  { "Impossible d'exporter les donn\xc3\xa9" "es", FALSE, 1 },
  { "No puedo iniciar sesi\xc3\xb3n despu\xc3\xa9s de la actualizaci\xc3\xb3n", FALSE, 2 },
  { "\xc2\xbf" "Cu\xc3\xa1ndo se renovar\xc3\xa1 mi licencia?", FALSE, 2 },
  { "La aplicaci\xc3\xb3n m\xc3\xb3vil se cierra al abrirla", FALSE, 2 },
  /* "Cannot log in", "Question about the invoice", "Sync error". */
  { "\xe3\x83\xad\xe3\x82\xb0\xe3\x82\xa4\xe3\x83\xb3\xe3\x81\xa7\xe3\x81\x8d\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", TRUE, 3 },
  { "\xe8\xab\x8b\xe6\xb1\x82\xe6\x9b\xb8\xe3\x81\xab\xe3\x81\xa4\xe3\x81\x84\xe3\x81\xa6\xe3\x81\xae\xe8\xb3\xaa\xe5\x95\x8f", TRUE, 3 },
  { "\xe5\x90\x8c\xe6\x9c\x9f\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc\xef\xbc\x88\xe3\x83\x90\xe3\x83\xbc\xe3\x82\xb8\xe3\x83\xa7\xe3\x83\xb3 4.2\xef\xbc\x89", TRUE, 3 },
};

/* A line in the customer's language for bodies whose subject is not
 * English, so those bodies carry UTF-8 text as well. */
static const char *const intl_lines[] = {
  "Vielen Dank im Voraus f\xc3\xbcr Ihre schnelle R\xc3\xbc\x63kmeldung.",
  "Merci d'avance pour votre r\xc3\xa9ponse rapide.",
  "Gracias de antemano por su pronta respuesta.",
  "\xe3\x82\x88\xe3\x82\x8d\xe3\x81\x97\xe3\x81\x8f\xe3\x81\x8a\xe9\xa1\x98\xe3\x81\x84\xe3\x81\x84\xe3\x81\x9f\xe3\x81\x97\xe3\x81\xbe\xe3\x81\x99\xe3\x80\x82",
};

/* Whole sentences as customers write them; {P} is a product, {F} a feature,
 * {E} an error code, {V} a version, {N} a number and {D} a weekday. */
static const char *const templates[] = {
  "Since the upgrade to version {V} {F} fails every night.",
  "We get error {E} whenever we open {P}.",
  "This started on {D} and affects about {N} of our users.",
  "I already restarted {P} twice but the problem is still there.",
  "Could you please check what is going on with {F}?",
  "Our team cannot work until this is fixed, so it is quite urgent for us.",
  "I have attached the log file from this morning.",
  "The same setup worked fine with version {V}.",
  "Is there a workaround we can use in the meantime?",
  "We followed the steps in your knowledge base article but nothing changed.",
  "After clearing the cache {P} starts, but {F} is still broken.",
  "Please let me know if you need more information from our side.",
  "It only happens for users in our branch office.",
  "The error message says {E} and then the window closes.",
  "We are on the business plan with {N} seats.",
  "Can you tell me when the fix will be released?",
  "I tried it on two different machines with the same result.",
  "Our administrator changed nothing on the server since {D}.",
  "When I click on save, {P} shows a spinner and never finishes.",
  "Yesterday {F} worked for a few hours and then stopped again.",
  "We need this for the month-end closing on {D}.",
  "Attached you will find a screenshot of the error.",
  "Is {F} supposed to work with {P} at all?",
  "Thank you for the quick answer, unfortunately it did not help.",
  "I can reproduce it every time with the steps below.",
  "The log shows a timeout after {N} seconds.",
  "Our firewall allows outgoing connections on port 443.",
  "We would like to schedule a call to go through this together.",
};

static const char *const words[] = {
  "account", "admin", "after", "again", "agent", "all", "already", "also",
  "and", "another", "anyway", "app", "around", "backup", "before", "behaviour",
  "broken", "browser", "but", "cache", "can", "change", "check", "client",
  "colleague", "config", "connection", "could", "customer", "dashboard", "data",
  "database", "day", "does", "down", "during", "each", "error", "every",
  "export", "field", "file", "first", "fix", "folder", "for", "from", "have",
  "help", "here", "import", "in", "install", "instead", "invoice", "issue",
  "just", "last", "later", "license", "list", "log", "login", "looks", "machine",
  "message", "minutes", "missing", "morning", "network", "never", "new", "night",
  "not", "now", "number", "of", "office", "old", "only", "order", "our",
  "page", "password", "people", "please", "problem", "proxy", "queue", "quite",
  "really", "report", "request", "restart", "right", "running", "same",
  "screen", "second", "server", "setting", "should", "since", "slow", "some",
  "still", "support", "sync", "system", "team", "the", "then", "there",
  "this", "ticket", "time", "today", "update", "upload", "user", "version",
  "was", "we", "week", "when", "which", "while", "window", "with", "without",
  "work", "working", "yesterday", "you",
};

static const char *const greetings[] = {
  "Hello support team,", "Hi,", "Dear Support,", "Hello,", "Good morning,",
  "Hi there,", "Dear Sir or Madam,",
};

static const char *const closings[] = {
  "Best regards,", "Thanks,", "Kind regards,", "Many thanks,", "Cheers,",
  "Regards,", "Thank you,",
};

static const char *const weekdays[] = {
  "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
};

static const char *const log_levels[] = {
  "INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG",
};

static const char *const log_sources[] = {
  "com.example.sync.Worker", "com.example.export.Job", "db.pool",
  "http.client", "auth.TokenService", "scheduler", "mail.Notifier",
  "storage.Uploader",
};

static const char *const log_texts[] = {
  "Connection reset by peer (attempt {N}/5)",
  "Request completed in {N} ms",
  "Timeout after 30000 ms waiting for response from api.example.com:443",
  "Failed to acquire lock on table orders, retrying",
  "java.io.IOException: Broken pipe",
  "Job export-{N} finished with status FAILED (code {E})",
  "Token refresh succeeded for user id {N}",
  "Queue length {N}, processing",
  "SSL handshake failed: certificate verify failed",
  "Wrote {N} records to export.csv",
  "Unexpected response status 502 Bad Gateway",
  "Heartbeat OK",
};

static const char *const mailers[] = {
  "Microsoft Outlook 16.0", "Thunderbird 115.6.0", "Apple Mail (2.3731)",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
};

/* Time zones customers write from, in minutes east of UTC. */
static const int zones[] = { 60, 60, 60, 0, 120, -300, -480, 540, 60, 0 };

static const char *const day_abbr[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const month_abbr[] = {
  "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* ---- the generator's state ---------------------------------------------- */

typedef struct {
  char *name;        /* "Anna Mueller" */
  char *address;     /* "anna.mueller@globex.example" */
  guint domain;      /* index into domains[] */
  int zone;          /* minutes east of UTC */
  const char *title; /* for the signature; NULL for private customers */
} customer_t;

/* What later messages need to know about an earlier one to reply to it. */
typedef struct {
  gint64 date;       /* UTC seconds */
  gint32 parent;     /* index of the message replied to, -1 for a new conversation */
  guint16 customer;  /* the sender */
  guint16 subject;   /* the thread's subject: ascii_subjects[] or, at or
                        above G_N_ELEMENTS (ascii_subjects), intl_subjects[] */
  guint32 subject_number;  /* the number filled into the thread's subject */
  guint32 id_tag;    /* random part of the Message-ID */
} info_t;

typedef struct {
  rng_t rng;
  customer_t customers[N_CUSTOMERS];
  info_t *info;
  guint count;
  gint64 now;        /* the date of the message being written */
  /* Measured shares, for --stats and the summary line. */
  guint replies, refs_only, irt_only, both, attachments, alternative, encoded;
  guint32 *sizes;
  guint64 total_bytes;
} gen_t;

/* ---- small text helpers ------------------------------------------------- */

/* Expands the {X} fields of a template sentence. */
static void
expand (gen_t *g, GString *out, const char *tpl)
{
  for (const char *p = tpl; *p != '\0'; p++)
    {
      if (p[0] != '{' || p[1] == '\0' || p[2] != '}')
        {
          g_string_append_c (out, *p);
          continue;
        }
      switch (p[1])
        {
        case 'P': g_string_append (out, PICK (&g->rng, products)); break;
        case 'F': g_string_append (out, PICK (&g->rng, features)); break;
        case 'E': g_string_append_printf (out, "E%04u", rng_range (&g->rng, 1000, 9999)); break;
        case 'V':
          {
            guint32 major = rng_range (&g->rng, 3, 5);
            guint32 minor = rng_below (&g->rng, 10);
            guint32 patch = rng_below (&g->rng, 20);
            g_string_append_printf (out, "%u.%u.%u", major, minor, patch);
          }
          break;
        case 'N': g_string_append_printf (out, "%u", rng_range (&g->rng, 2, 9999)); break;
        case 'D': g_string_append (out, PICK (&g->rng, weekdays)); break;
        default: g_string_append_len (out, p, 3); break;
        }
      p += 2;
    }
}

/* One sentence: half of them written out, half strung from the word list,
 * so the text has both realistic phrases and varied vocabulary. */
static void
add_sentence (gen_t *g, GString *out)
{
  if (rng_percent (&g->rng, 55))
    {
      expand (g, out, PICK (&g->rng, templates));
      return;
    }
  guint n = rng_range (&g->rng, 6, 16);
  for (guint i = 0; i < n; i++)
    {
      const char *w = PICK (&g->rng, words);
      if (i == 0)
        {
          g_string_append_c (out, g_ascii_toupper (w[0]));
          g_string_append (out, w + 1);
        }
      else
        {
          g_string_append_c (out, ' ');
          g_string_append (out, w);
        }
    }
  g_string_append_c (out, rng_percent (&g->rng, 15) ? '?' : '.');
}

/* A paragraph as one unwrapped line. */
static char *
make_paragraph (gen_t *g, guint sentences)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < sentences; i++)
    {
      if (i > 0)
        g_string_append_c (s, ' ');
      add_sentence (g, s);
    }
  return g_string_free (s, FALSE);
}

/* Appends 'text' wrapped at 72 columns, each line starting with 'prefix'
 * (empty, or "> " for quoted history). */
static void
append_wrapped (GString *out, const char *prefix, const char *text)
{
  const gsize width = 72;
  const char *p = text;
  while (*p != '\0')
    {
      gsize len = strlen (p);
      gsize take = len;
      if (len > width)
        {
          take = width;
          while (take > 0 && p[take] != ' ')
            take--;
          if (take == 0)
            take = width;
        }
      g_string_append (out, prefix);
      g_string_append_len (out, p, (gssize) take);
      g_string_append_c (out, '\n');
      p += take;
      while (*p == ' ')
        p++;
    }
}

/* RFC 5322 date in the given zone, e.g. "Tue, 14 Jan 2025 09:12:44 +0100".
 * Day and month names come from our own tables so the locale never matters. */
static void
append_date (GString *out, gint64 utc, int zone)
{
  time_t local = (time_t) (utc + (gint64) zone * 60);
  struct tm tm;
  gmtime_r (&local, &tm);
  int az = zone < 0 ? -zone : zone;
  g_string_append_printf (out, "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d",
                          day_abbr[tm.tm_wday], tm.tm_mday, month_abbr[tm.tm_mon],
                          tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                          zone < 0 ? '-' : '+', az / 60, az % 60);
}

/* The Message-ID of message 'i', with its angle brackets. It is derived from
 * the message's index, so it is unique, and from its sender's domain, as a
 * real mail client would make it. */
static void
append_msgid (gen_t *g, GString *out, guint i)
{
  const info_t *m = &g->info[i];
  const customer_t *c = &g->customers[m->customer];
  g_string_append_printf (out, "<%" G_GINT64_FORMAT ".%07u.%08x@mail.%s>",
                          m->date, i, m->id_tag, domains[c->domain]);
}

/* The thread's subject as UTF-8 (transfer full). */
static char *
subject_text (const info_t *m)
{
  if (m->subject >= G_N_ELEMENTS (ascii_subjects))
    return g_strdup (intl_subjects[m->subject - G_N_ELEMENTS (ascii_subjects)].text);
  GString *s = g_string_new (NULL);
  for (const char *p = ascii_subjects[m->subject]; *p != '\0'; p++)
    {
      if (p[0] == '{' && (p[1] == 'E' || p[1] == 'N' || p[1] == 'V') && p[2] == '}')
        {
          if (p[1] == 'E')
            g_string_append_printf (s, "E%04u", 1000 + m->subject_number % 9000);
          else if (p[1] == 'V')
            g_string_append_printf (s, "4.%u", m->subject_number % 10);
          else
            g_string_append_printf (s, "%u", m->subject_number);
          p += 2;
        }
      else
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

/* Whether Q encoding writes byte 'c' as itself (a space becomes '_'). */
static gboolean
q_plain (guchar c)
{
  return g_ascii_isalnum (c) || c == '.' || c == ',' || c == '-';
}

/* Appends UTF-8 'text' as RFC 2047 encoded words, B or Q, folded so that no
 * encoded word exceeds 75 characters. Words end only on character
 * boundaries, since a decoder may decode each word on its own. */
static void
append_encoded_words (GString *out, const char *text, gboolean use_b)
{
  /* Each word carries at most 48 encoded characters (36 bytes in base64).
   * With the 12 characters of "=?UTF-8?B??=" and "Subject: Re: " in front,
   * every line stays under 78 columns. */
  const gsize max_encoded = 48;
  const char *p = text;
  gboolean first = TRUE;
  while (*p != '\0')
    {
      const char *end = p;
      gsize encoded = 0;
      while (*end != '\0')
        {
          const char *next = g_utf8_next_char (end);
          gsize add = 0;
          if (use_b)
            add = ((gsize) (next - p) + 2) / 3 * 4 - encoded;
          else
            for (const char *q = end; q < next; q++)
              add += (q_plain ((guchar) *q) || *q == ' ') ? 1 : 3;
          if (encoded + add > max_encoded)
            break;
          encoded += add;
          end = next;
        }
      if (!first)
        g_string_append (out, "\n ");
      first = FALSE;
      g_string_append (out, use_b ? "=?UTF-8?B?" : "=?UTF-8?Q?");
      if (use_b)
        {
          char *b64 = g_base64_encode ((const guchar *) p, (gsize) (end - p));
          g_string_append (out, b64);
          g_free (b64);
        }
      else
        {
          for (const char *q = p; q < end; q++)
            {
              guchar c = (guchar) *q;
              if (c == ' ')
                g_string_append_c (out, '_');
              else if (q_plain (c))
                g_string_append_c (out, (char) c);
              else
                g_string_append_printf (out, "=%02X", c);
            }
        }
      g_string_append (out, "?=");
      p = end;
    }
}

/* Appends 'text' as quoted-printable (RFC 2045): lines kept, long lines
 * broken with soft line breaks before 76 columns. */
static void
append_qp (GString *out, const char *text)
{
  gsize col = 0;
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;
      if (c == '\n')
        {
          g_string_append_c (out, '\n');
          col = 0;
          continue;
        }
      gboolean plain = c >= 33 && c <= 126 && c != '=';
      /* A space is fine except at the end of a line, where it would be lost. */
      if (c == ' ' && p[1] != '\n' && p[1] != '\0')
        plain = TRUE;
      gsize need = plain ? 1 : 3;
      if (col + need > 75)
        {
          g_string_append (out, "=\n");
          col = 0;
        }
      if (plain)
        g_string_append_c (out, (char) c);
      else
        g_string_append_printf (out, "=%02X", c);
      col += need;
    }
}

/* Appends base64 of 'data' in lines of 76 characters, as MIME asks. */
static void
append_base64 (GString *out, const guchar *data, gsize len)
{
  char *b64 = g_base64_encode (data, len);
  gsize n = strlen (b64);
  for (gsize i = 0; i < n; i += 76)
    {
      g_string_append_len (out, b64 + i, (gssize) MIN (76, n - i));
      g_string_append_c (out, '\n');
    }
  g_free (b64);
}

static gboolean
is_ascii (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar) *s >= 0x80)
      return FALSE;
  return TRUE;
}

/* ---- bodies --------------------------------------------------------------- */

/* A body is a list of blocks, rendered once as plain text and once as HTML
 * for multipart/alternative messages. */
typedef enum { BLOCK_PARA, BLOCK_LOG, BLOCK_QUOTE, BLOCK_SIGNATURE } block_kind_t;

typedef struct {
  block_kind_t kind;
  char *text;  /* paragraphs: one line; the others: ready-made lines */
} block_t;

static void
block_free (gpointer p)
{
  block_t *b = p;
  g_free (b->text);
  g_free (b);
}

static void
add_block (GPtrArray *blocks, block_kind_t kind, char *text)
{
  block_t *b = g_new (block_t, 1);
  b->kind = kind;
  b->text = text;
  g_ptr_array_add (blocks, b);
}

/* Log lines as an application writes them, just before the mail was sent. */
static char *
make_log (gen_t *g, guint lines)
{
  GString *s = g_string_new (NULL);
  gint64 t = g->now - rng_range (&g->rng, 600, 86400);
  for (guint i = 0; i < lines; i++)
    {
      time_t tt = (time_t) t;
      struct tm tm;
      gmtime_r (&tt, &tm);
      guint32 millis = rng_below (&g->rng, 1000);
      const char *level = PICK (&g->rng, log_levels);
      guint32 worker = rng_range (&g->rng, 1, 8);
      const char *source = PICK (&g->rng, log_sources);
      g_string_append_printf (s, "%04d-%02d-%02d %02d:%02d:%02d,%03u %-5s [worker-%u] %s - ",
                              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                              tm.tm_min, tm.tm_sec, millis, level, worker, source);
      expand (g, s, PICK (&g->rng, log_texts));
      g_string_append_c (s, '\n');
      t += rng_below (&g->rng, 40);
    }
  return g_string_free (s, FALSE);
}

/* The blocks of message 'i'. A reply quotes the message it answers: the
 * text is made up afresh (the parent's body is not kept), but its shape -
 * an attribution line and "> " lines, nested for deeper threads - is what a
 * mail client writes. */
static GPtrArray *
make_body (gen_t *g, guint i, gboolean intl)
{
  const info_t *m = &g->info[i];
  const customer_t *c = &g->customers[m->customer];
  GPtrArray *blocks = g_ptr_array_new_with_free_func (block_free);

  add_block (blocks, BLOCK_PARA, g_strdup (PICK (&g->rng, greetings)));
  /* Most mails are short; one in eight is a long report. */
  guint paragraphs = rng_percent (&g->rng, 12) ? rng_range (&g->rng, 8, 14)
                                               : rng_range (&g->rng, 4, 8);
  for (guint p = 0; p < paragraphs; p++)
    add_block (blocks, BLOCK_PARA, make_paragraph (g, rng_range (&g->rng, 2, 6)));
  if (rng_percent (&g->rng, 40))
    {
      guint lines = rng_percent (&g->rng, 15) ? rng_range (&g->rng, 40, 120)
                                              : rng_range (&g->rng, 5, 25);
      add_block (blocks, BLOCK_LOG, make_log (g, lines));
    }
  if (intl)
    add_block (blocks, BLOCK_PARA,
               g_strdup (intl_lines[intl_subjects[m->subject - G_N_ELEMENTS (ascii_subjects)].lang]));

  GString *sig = g_string_new (NULL);
  g_string_append_printf (sig, "%s\n%s\n", PICK (&g->rng, closings), c->name);
  g_string_append (sig, "-- \n");
  g_string_append_printf (sig, "%s\n", c->name);
  if (c->title != NULL)
    {
      g_string_append_printf (sig, "%s\n", c->title);
      g_string_append_printf (sig, "%s | www.%s\n", domains[c->domain], domains[c->domain]);
      guint32 country = rng_range (&g->rng, 30, 81);
      guint32 area = rng_range (&g->rng, 10, 99);
      guint32 number = rng_range (&g->rng, 100000, 9999999);
      g_string_append_printf (sig, "Phone +%u %u %u\n", country, area, number);
    }
  add_block (blocks, BLOCK_SIGNATURE, g_string_free (sig, FALSE));

  if (m->parent >= 0)
    {
      const info_t *pm = &g->info[m->parent];
      const customer_t *pc = &g->customers[pm->customer];
      GString *q = g_string_new ("On ");
      append_date (q, pm->date, pc->zone);
      g_string_append_printf (q, ", %s <%s> wrote:\n", pc->name, pc->address);
      guint depth = 0;
      for (gint32 a = m->parent; a >= 0 && depth < 3; a = g->info[a].parent)
        depth++;
      /* Each older message is quoted one level deeper: "> ", "> > ". */
      for (guint level = 0; level < depth; level++)
        {
          char prefix[8] = "";
          for (guint k = 0; k <= level; k++)
            g_strlcat (prefix, "> ", sizeof prefix);
          guint n = level == 0 ? rng_range (&g->rng, 1, 3) : 1;
          for (guint p = 0; p < n; p++)
            {
              char *para = make_paragraph (g, rng_range (&g->rng, 2, 5));
              append_wrapped (q, prefix, para);
              /* The empty quoted line between paragraphs has no trailing
               * space, as clients write it. */
              g_string_append_len (q, prefix, (gssize) strlen (prefix) - 1);
              g_string_append_c (q, '\n');
              g_free (para);
            }
        }
      add_block (blocks, BLOCK_QUOTE, g_string_free (q, FALSE));
    }
  return blocks;
}

static void
render_plain (GString *out, GPtrArray *blocks)
{
  for (guint i = 0; i < blocks->len; i++)
    {
      const block_t *b = blocks->pdata[i];
      if (i > 0)
        g_string_append_c (out, '\n');
      if (b->kind == BLOCK_PARA)
        append_wrapped (out, "", b->text);
      else
        g_string_append (out, b->text);
    }
}

static void
append_escaped (GString *out, const char *text, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      switch (text[i])
        {
        case '&': g_string_append (out, "&amp;"); break;
        case '<': g_string_append (out, "&lt;"); break;
        case '>': g_string_append (out, "&gt;"); break;
        default: g_string_append_c (out, text[i]); break;
        }
    }
}

/* HTML as a mail client writes it: a head with styles, a div per paragraph,
 * logs in <pre>, quoted history in a <blockquote>. Lines are broken at
 * spaces so the quoted-printable encoding stays readable. */
static void
render_html (GString *out, GPtrArray *blocks)
{
  g_string_append (out,
                   "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\n"
                   "<style type=\"text/css\">body { font-family: Calibri, Arial, sans-serif; font-size: 11pt; }\n"
                   "p.MsoNormal { margin: 0cm; } .signature { color: #555555; font-size: 9pt; }</style>\n"
                   "</head>\n<body lang=\"EN-US\" link=\"#0563C1\" vlink=\"#954F72\">\n<div class=\"WordSection1\">\n");
  for (guint i = 0; i < blocks->len; i++)
    {
      const block_t *b = blocks->pdata[i];
      switch (b->kind)
        {
        case BLOCK_PARA:
          g_string_append (out, "<p class=\"MsoNormal\"><span style=\"font-size:11.0pt\">");
          append_escaped (out, b->text, strlen (b->text));
          g_string_append (out, "</span></p>\n<p class=\"MsoNormal\">&nbsp;</p>\n");
          break;
        case BLOCK_LOG:
          g_string_append (out, "<pre style=\"font-family: Consolas, monospace; font-size: 9pt\">");
          append_escaped (out, b->text, strlen (b->text));
          g_string_append (out, "</pre>\n");
          break;
        case BLOCK_QUOTE:
        case BLOCK_SIGNATURE:
          g_string_append (out, b->kind == BLOCK_QUOTE
                                  ? "<blockquote style=\"border-left: 1px solid #cccccc; padding-left: 1ex\">\n"
                                  : "<div class=\"signature\">\n");
          for (const char *line = b->text; *line != '\0';)
            {
              const char *nl = strchr (line, '\n');
              gsize len = nl != NULL ? (gsize) (nl - line) : strlen (line);
              append_escaped (out, line, len);
              g_string_append (out, "<br>\n");
              line += len + (nl != NULL ? 1 : 0);
            }
          g_string_append (out, b->kind == BLOCK_QUOTE ? "</blockquote>\n" : "</div>\n");
          break;
        }
    }
  g_string_append (out, "</div>\n</body>\n</html>\n");
}

/* ---- attachments ------------------------------------------------------------ */

/* Decoded attachment size: cubing a uniform number skews towards small files
 * (median ~26 KB) while still reaching ~200 KB, as attachments in support
 * mail do: a few KB of log or a screenshot usually, a big PDF now and then. */
static gsize
attachment_size (gen_t *g)
{
  double u = (double) (rng_next (&g->rng) >> 11) * (1.0 / 9007199254740992.0);
  return 1024 + (gsize) (199.0 * 1024.0 * u * u * u);
}

static void
append_attachment (gen_t *g, GString *out, const char *boundary)
{
  gsize size = attachment_size (g);
  guint kind = rng_below (&g->rng, 5);
  const char *type;
  char *name;
  guchar *data = g_malloc (size + 8);

  if (kind <= 1)
    {
      /* Log files and CSV exports are text; generate them as such. */
      GString *text = g_string_new (NULL);
      if (kind == 0)
        {
          while (text->len < size)
            {
              char *chunk = make_log (g, 50);
              g_string_append (text, chunk);
              g_free (chunk);
            }
          type = "text/plain";
          name = g_strdup_printf ("server-%u.log", rng_range (&g->rng, 1, 9999));
        }
      else
        {
          g_string_append (text, "date;order;customer;amount;status\n");
          while (text->len < size)
            {
              guint32 day = rng_range (&g->rng, 1, 31);
              guint32 order = rng_range (&g->rng, 10000, 99999);
              guint32 customer = rng_range (&g->rng, 100, 999);
              guint32 euros = rng_below (&g->rng, 5000);
              guint32 cents = rng_below (&g->rng, 100);
              gboolean ok = rng_percent (&g->rng, 80);
              g_string_append_printf (text, "2025-01-%02u;%u;%u;%u.%02u;%s\n", day, order,
                                      customer, euros, cents, ok ? "ok" : "failed");
            }
          type = "text/csv";
          name = g_strdup_printf ("export-%u.csv", rng_range (&g->rng, 1, 9999));
        }
      memcpy (data, text->str, size);
      g_string_free (text, TRUE);
    }
  else
    {
      /* Binary files are random bytes behind the format's magic number:
       * they compress and decode like the real thing. */
      for (gsize i = 0; i < size; i += 8)
        {
          guint64 r = rng_next (&g->rng);
          memcpy (data + i, &r, 8);
        }
      if (kind == 2)
        {
          memcpy (data, "%PDF-1.4\n", 9);
          type = "application/pdf";
          name = g_strdup_printf ("invoice-%u.pdf", rng_range (&g->rng, 1000, 9999));
        }
      else if (kind == 3)
        {
          memcpy (data, "\x89PNG\r\n\x1a\n", 8);
          type = "image/png";
          name = g_strdup_printf ("screenshot-%u.png", rng_range (&g->rng, 1, 999));
        }
      else
        {
          memcpy (data, "PK\x03\x04", 4);
          type = "application/zip";
          name = g_strdup_printf ("diagnostics-%u.zip", rng_range (&g->rng, 1, 999));
        }
    }
  g_string_append_printf (out, "--%s\nContent-Type: %s; name=\"%s\"\n"
                          "Content-Disposition: attachment; filename=\"%s\"\n"
                          "Content-Transfer-Encoding: base64\n\n",
                          boundary, type, name, name);
  append_base64 (out, data, size);
  g_string_append_c (out, '\n');
  g_free (name);
  g_free (data);
}

/* ---- one message ------------------------------------------------------------ */

/* Appends the plain text part's headers and body. */
static void
append_text_part (gen_t *g, GString *out, GPtrArray *blocks)
{
  GString *text = g_string_new (NULL);
  render_plain (text, blocks);
  if (is_ascii (text->str))
    {
      g_string_append (out, "Content-Type: text/plain; charset=\"us-ascii\"\n"
                            "Content-Transfer-Encoding: 7bit\n\n");
      g_string_append (out, text->str);
    }
  else if (rng_percent (&g->rng, 50))
    {
      g_string_append (out, "Content-Type: text/plain; charset=\"utf-8\"; format=flowed\n"
                            "Content-Transfer-Encoding: 8bit\n\n");
      g_string_append (out, text->str);
    }
  else
    {
      g_string_append (out, "Content-Type: text/plain; charset=\"utf-8\"\n"
                            "Content-Transfer-Encoding: quoted-printable\n\n");
      append_qp (out, text->str);
    }
  g_string_free (text, TRUE);
}

static void
append_alternative (gen_t *g, GString *out, GPtrArray *blocks, const char *boundary)
{
  g_string_append_printf (out, "--%s\n", boundary);
  append_text_part (g, out, blocks);
  g_string_append_printf (out, "\n--%s\n", boundary);
  g_string_append (out, "Content-Type: text/html; charset=\"utf-8\"\n"
                        "Content-Transfer-Encoding: quoted-printable\n\n");
  GString *html = g_string_new (NULL);
  render_html (html, blocks);
  append_qp (out, html->str);
  g_string_free (html, TRUE);
  g_string_append_printf (out, "\n--%s--\n", boundary);
}

/* Chooses what message 'i' is and writes it into 'out'. */
static void
make_message (gen_t *g, guint i, GString *out)
{
  info_t *m = &g->info[i];
  const customer_t *c;

  g->now += rng_below (&g->rng, MAX_STEP_SECONDS);
  m->date = g->now;
  m->id_tag = (guint32) rng_next (&g->rng);
  m->parent = -1;

  /* The decisions are drawn up front, each on its own, so that every share
   * (replies, alternatives, attachments, encoded subjects) is an independent
   * draw per message and the measured shares match the targets. */
  gboolean reply = rng_percent (&g->rng, 30) && i > 0;
  guint32 parent = i > 0 ? rng_below (&g->rng, i) : 0;
  guint32 ref_style = rng_below (&g->rng, 100);
  /* Customers are drawn with a bias towards the low numbers: a few
   * customers write often, most write rarely. */
  guint32 cust_a = rng_below (&g->rng, N_CUSTOMERS);
  guint32 cust_b = rng_below (&g->rng, N_CUSTOMERS);
  guint32 cust = MIN (cust_a, cust_b);
  gboolean intl_subject = rng_percent (&g->rng, 10);
  guint32 subject_pick = intl_subject ? rng_below (&g->rng, G_N_ELEMENTS (intl_subjects))
                                      : rng_below (&g->rng, G_N_ELEMENTS (ascii_subjects));
  guint32 subject_number = rng_range (&g->rng, 1000, 99999);
  gboolean alternative = rng_percent (&g->rng, 25);
  gboolean attach = rng_percent (&g->rng, 8);
  gboolean use_b = rng_percent (&g->rng, 50);

  if (reply)
    {
      /* A follow-up comes from the thread's customer, on the thread's
       * subject, so that a help desk would thread it. */
      const info_t *pm = &g->info[parent];
      m->parent = (gint32) parent;
      m->customer = pm->customer;
      m->subject = pm->subject;
      m->subject_number = pm->subject_number;
    }
  else
    {
      m->customer = (guint16) cust;
      m->subject = (guint16) (intl_subject ? G_N_ELEMENTS (ascii_subjects) + subject_pick
                                           : subject_pick);
      m->subject_number = subject_number;
    }
  c = &g->customers[m->customer];
  gboolean intl = m->subject >= G_N_ELEMENTS (ascii_subjects);
  if (intl && intl_subjects[m->subject - G_N_ELEMENTS (ascii_subjects)].b_only)
    use_b = TRUE;

  /* Trace headers, newest first, as the receiving server adds them. */
  g_string_append (out, "Return-Path: <");
  g_string_append (out, c->address);
  g_string_append (out, ">\nDelivered-To: support@example.com\n");
  guint32 mx_host = rng_range (&g->rng, 1, 254);
  guint32 mx_queue_id = (guint32) rng_next (&g->rng);
  g_string_append_printf (out, "Received: from mail.%s (mail.%s [198.51.100.%u])\n"
                          "\tby mx1.example.com (Postfix) with ESMTPS id 4Y%08X\n"
                          "\tfor <support@example.com>; ",
                          domains[c->domain], domains[c->domain], mx_host, mx_queue_id);
  append_date (out, m->date + rng_range (&g->rng, 1, 30), 0);
  guint32 lan_b = rng_below (&g->rng, 256);
  guint32 lan_c = rng_below (&g->rng, 256);
  guint32 lan_d = rng_range (&g->rng, 1, 254);
  guint32 submit_id = (guint32) rng_next (&g->rng);
  g_string_append_printf (out, "\nReceived: from [10.%u.%u.%u] (helo=workstation)\n"
                          "\tby mail.%s with esmtpsa (TLS1.3) id 1t%08x; ",
                          lan_b, lan_c, lan_d, domains[c->domain], submit_id);
  append_date (out, m->date, c->zone);
  g_string_append_printf (out, "\nFrom: %s <%s>\nTo: Example Support <support@example.com>\n",
                          c->name, c->address);
  if (m->parent < 0 && c->title != NULL && rng_percent (&g->rng, 8))
    {
      /* A colleague at the same company, copied on the first mail. */
      const char *cc_first = PICK (&g->rng, first_names);
      const char *cc_last = PICK (&g->rng, last_names);
      g_string_append_printf (out, "Cc: %s.%s@%s\n", cc_first, cc_last, domains[c->domain]);
    }

  char *subject = subject_text (m);
  g_string_append (out, "Subject: ");
  if (m->parent >= 0)
    g_string_append (out, rng_percent (&g->rng, 80) ? "Re: " : "RE: ");
  if (intl)
    {
      append_encoded_words (out, subject, use_b);
      g->encoded++;
    }
  else
    g_string_append (out, subject);
  g_free (subject);

  g_string_append (out, "\nDate: ");
  append_date (out, m->date, c->zone);
  g_string_append (out, "\nMessage-ID: ");
  append_msgid (g, out, i);
  g_string_append_c (out, '\n');

  if (m->parent >= 0)
    {
      /* Most clients send both headers; some send References only (several
       * webmailers) and some only In-Reply-To (old or minimal clients). */
      gboolean irt = ref_style < 60 || ref_style >= 85;
      gboolean refs = ref_style < 85;
      g->replies++;
      if (irt && refs)
        g->both++;
      else if (refs)
        g->refs_only++;
      else
        g->irt_only++;
      if (irt)
        {
          g_string_append (out, "In-Reply-To: ");
          append_msgid (g, out, (guint) m->parent);
          g_string_append_c (out, '\n');
        }
      if (refs)
        {
          /* Ancestors from the parent up to the root, then written oldest
           * first, keeping the root and the most recent ones. */
          guint chain[64];
          guint n = 0;
          for (gint32 a = m->parent; a >= 0 && n < G_N_ELEMENTS (chain); a = g->info[a].parent)
            chain[n++] = (guint) a;
          g_string_append (out, "References:");
          for (guint k = n; k > 0; k--)
            {
              guint idx = k - 1;
              if (idx != n - 1 && idx >= MAX_REFERENCES - 1)
                continue;
              g_string_append (out, k == n ? " " : "\n ");
              append_msgid (g, out, chain[idx]);
            }
          g_string_append_c (out, '\n');
        }
    }
  if (rng_percent (&g->rng, 70))
    g_string_append_printf (out, "X-Mailer: %s\n", PICK (&g->rng, mailers));
  g_string_append (out, "MIME-Version: 1.0\n");

  GPtrArray *blocks = make_body (g, i, intl);
  char alt_boundary[64], mixed_boundary[64];
  g_snprintf (alt_boundary, sizeof alt_boundary, "----=_Part_%u_%08x.alt", i,
              (guint) rng_next (&g->rng));
  g_snprintf (mixed_boundary, sizeof mixed_boundary, "----=_Part_%u_%08x.mix", i,
              (guint) rng_next (&g->rng));

  if (attach)
    {
      g->attachments++;
      g_string_append_printf (out, "Content-Type: multipart/mixed; boundary=\"%s\"\n\n"
                              "This is a multi-part message in MIME format.\n\n--%s\n",
                              mixed_boundary, mixed_boundary);
      if (alternative)
        {
          g_string_append_printf (out, "Content-Type: multipart/alternative; boundary=\"%s\"\n\n",
                                  alt_boundary);
          append_alternative (g, out, blocks, alt_boundary);
        }
      else
        append_text_part (g, out, blocks);
      g_string_append_c (out, '\n');
      guint n = rng_percent (&g->rng, 15) ? 2 : 1;
      for (guint k = 0; k < n; k++)
        append_attachment (g, out, mixed_boundary);
      g_string_append_printf (out, "--%s--\n", mixed_boundary);
    }
  else if (alternative)
    {
      g_string_append_printf (out, "Content-Type: multipart/alternative; boundary=\"%s\"\n\n"
                              "This is a multi-part message in MIME format.\n\n",
                              alt_boundary);
      append_alternative (g, out, blocks, alt_boundary);
    }
  else
    append_text_part (g, out, blocks);
  if (alternative)
    g->alternative++;
  g_ptr_array_unref (blocks);
}

/* ---- customers ------------------------------------------------------------ */

static void
make_customers (gen_t *g)
{
  for (guint k = 0; k < N_CUSTOMERS; k++)
    {
      customer_t *c = &g->customers[k];
      const char *first = PICK (&g->rng, first_names);
      const char *last = PICK (&g->rng, last_names);
      /* One customer in five writes from a public provider. */
      c->domain = rng_percent (&g->rng, 20)
                    ? rng_below (&g->rng, N_PUBLIC_DOMAINS)
                    : N_PUBLIC_DOMAINS + rng_below (&g->rng, G_N_ELEMENTS (domains) - N_PUBLIC_DOMAINS);
      c->zone = PICK (&g->rng, zones);
      c->title = c->domain >= N_PUBLIC_DOMAINS ? PICK (&g->rng, titles) : NULL;
      c->name = g_strdup_printf ("%s %s", first, last);
      char *lf = g_ascii_strdown (first, -1);
      char *ll = g_ascii_strdown (last, -1);
      /* The customer number keeps addresses distinct when names repeat. */
      switch (rng_below (&g->rng, 3))
        {
        case 0:
          c->address = g_strdup_printf ("%s.%s%u@%s", lf, ll, k, domains[c->domain]);
          break;
        case 1:
          c->address = g_strdup_printf ("%c%s%u@%s", lf[0], ll, k, domains[c->domain]);
          break;
        default:
          c->address = g_strdup_printf ("%s_%u@%s", lf, k, domains[c->domain]);
          break;
        }
      g_free (lf);
      g_free (ll);
    }
}

/* ---- main -------------------------------------------------------------- */

static int
compare_u32 (const void *a, const void *b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;
  return x < y ? -1 : x > y;
}

/* Creates DIR/cur, DIR/new and DIR/tmp; refuses a new/ or cur/ that
 * already holds messages, since leftovers would make the corpus differ
 * from what the seed describes. */
static gboolean
make_maildir (const char *dir)
{
  static const char *const subs[] = { "cur", "new", "tmp" };
  for (guint k = 0; k < G_N_ELEMENTS (subs); k++)
    {
      char *path = g_build_filename (dir, subs[k], NULL);
      if (g_mkdir_with_parents (path, 0755) != 0)
        {
          g_printerr ("gen-corpus: cannot create %s: %s\n", path, g_strerror (errno));
          g_free (path);
          return FALSE;
        }
      if (k < 2)
        {
          GDir *d = g_dir_open (path, 0, NULL);
          gboolean empty = d == NULL || g_dir_read_name (d) == NULL;
          if (d != NULL)
            g_dir_close (d);
          if (!empty)
            {
              g_printerr ("gen-corpus: %s is not empty\n", path);
              g_free (path);
              return FALSE;
            }
        }
      g_free (path);
    }
  return TRUE;
}

/* Delivers one message the Maildir way: written whole into tmp/, then
 * renamed into new/, so a reader never sees half a file. */
static gboolean
deliver (const char *dir, guint i, const GString *msg)
{
  char name[32];
  g_snprintf (name, sizeof name, "%07u.bench", i + 1);
  char *tmp = g_build_filename (dir, "tmp", name, NULL);
  char *dst = g_build_filename (dir, "new", name, NULL);
  gboolean ok = FALSE;
  FILE *f = fopen (tmp, "wb");
  if (f == NULL)
    g_printerr ("gen-corpus: cannot create %s: %s\n", tmp, g_strerror (errno));
  else if (fwrite (msg->str, 1, msg->len, f) != msg->len)
    {
      g_printerr ("gen-corpus: cannot write %s: %s\n", tmp, g_strerror (errno));
      fclose (f);
    }
  else if (fclose (f) != 0)
    g_printerr ("gen-corpus: cannot write %s: %s\n", tmp, g_strerror (errno));
  else if (g_rename (tmp, dst) != 0)
    g_printerr ("gen-corpus: cannot rename %s: %s\n", tmp, g_strerror (errno));
  else
    ok = TRUE;
  g_free (tmp);
  g_free (dst);
  return ok;
}

static gboolean
parse_number (const char *text, guint64 max, guint64 *out)
{
  guint64 v;
  if (!g_ascii_string_to_unsigned (text, 10, 0, max, &v, NULL))
    return FALSE;
  *out = v;
  return TRUE;
}

static void
usage (void)
{
  g_printerr ("usage: gen-corpus [--seed N] [--count N] [--stats] DIR\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  guint64 seed = DEFAULT_SEED, count = DEFAULT_COUNT;
  gboolean stats = FALSE;
  const char *dir = NULL;

  for (int a = 1; a < argc; a++)
    {
      if (strcmp (argv[a], "--seed") == 0 && a + 1 < argc)
        {
          if (!parse_number (argv[++a], G_MAXUINT64, &seed))
            usage ();
        }
      else if (strcmp (argv[a], "--count") == 0 && a + 1 < argc)
        {
          /* Message numbers must fit the seven digits of the file names. */
          if (!parse_number (argv[++a], 9999999, &count))
            usage ();
        }
      else if (strcmp (argv[a], "--stats") == 0)
        stats = TRUE;
      else if (argv[a][0] == '-' || dir != NULL)
        usage ();
      else
        dir = argv[a];
    }
  if (dir == NULL)
    usage ();
  if (!make_maildir (dir))
    return 1;

  gen_t *g = g_new0 (gen_t, 1);
  /* The seed is scrambled once so that neighbouring seeds give unrelated
   * corpora. */
  g->rng.state = seed ^ G_GUINT64_CONSTANT (0x5DEECE66D2545F49);
  rng_next (&g->rng);
  g->count = (guint) count;
  g->now = BASE_TIME;
  g->info = g_new0 (info_t, MAX (g->count, 1));
  g->sizes = g_new0 (guint32, MAX (g->count, 1));
  make_customers (g);

  GString *msg = g_string_sized_new (64 * 1024);
  int status = 0;
  for (guint i = 0; i < g->count; i++)
    {
      g_string_truncate (msg, 0);
      make_message (g, i, msg);
      if (!deliver (dir, i, msg))
        {
          status = 1;
          break;
        }
      g->sizes[i] = (guint32) msg->len;
      g->total_bytes += msg->len;
    }
  g_string_free (msg, TRUE);

  if (status == 0)
    {
      double median = 0;
      if (g->count > 0)
        {
          qsort (g->sizes, g->count, sizeof *g->sizes, compare_u32);
          median = g->count % 2 == 1
                     ? g->sizes[g->count / 2]
                     : (g->sizes[g->count / 2 - 1] + (double) g->sizes[g->count / 2]) / 2;
        }
      printf ("generated %u messages, %.1f MB, median %.1f KB\n", g->count,
              (double) g->total_bytes / (1024.0 * 1024.0), median / 1024.0);
      if (stats)
        {
          double n = g->count > 0 ? g->count : 1;
          printf ("stats: %u new conversations, %u replies (%.1f%%; target 30%%): "
                  "%.1f%% both headers, %.1f%% References only, %.1f%% In-Reply-To only\n",
                  g->count - g->replies, g->replies, 100.0 * g->replies / n,
                  100.0 * g->both / MAX (g->replies, 1), 100.0 * g->refs_only / MAX (g->replies, 1),
                  100.0 * g->irt_only / MAX (g->replies, 1));
          printf ("stats: attachments %.1f%% (target 8%%), multipart/alternative %.1f%% "
                  "(target 25%%), encoded subjects %.1f%% (target 10%%)\n",
                  100.0 * g->attachments / n, 100.0 * g->alternative / n, 100.0 * g->encoded / n);
          printf ("stats: size median %.1f KB (target ~4 KB), mean %.1f KB, "
                  "10th percentile %.1f KB, 90th %.1f KB, largest %.1f KB\n",
                  median / 1024.0, (double) g->total_bytes / n / 1024.0,
                  g->count > 0 ? g->sizes[g->count / 10] / 1024.0 : 0.0,
                  g->count > 0 ? g->sizes[g->count * 9 / 10] / 1024.0 : 0.0,
                  g->count > 0 ? g->sizes[g->count - 1] / 1024.0 : 0.0);
        }
    }

  for (guint k = 0; k < N_CUSTOMERS; k++)
    {
      g_free (g->customers[k].name);
      g_free (g->customers[k].address);
    }
  g_free (g->info);
  g_free (g->sizes);
  g_free (g);
  return status;
}
