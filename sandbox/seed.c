/*
 * sandbox/seed.c - the seeded "world" every sandbox module derives its data from.
 *
 * Design:     one splitmix64 stream seeded with the seed drives every choice, in a fixed
 *             order, so the same seed and sizes give byte-identical worlds (the arrays come
 *             from hs_calloc and are only written through snprintf into zeroed fields).
 *             Companies come from per-country tables (name roots and industry words in UTF-8
 *             with an ASCII spelling for domains and emails, legal suffixes, cities, streets,
 *             postcode and phone formats, tax ids with their real check digits: AU ABN,
 *             DE USt-IdNr (ISO 7064 MOD 11,10), GB VAT (mod 97), FR TVA key over a Luhn
 *             SIREN, PL NIP, CA BN (Luhn), BR CNPJ, JP corporate number). The first company of
 *             each country is a fixed "classic" (Acme, Inc.; Müller GmbH; Łódź Logistics;
 *             Société Générale des Eaux; ...), so docs and tests can name them.
 *             Companies [0, companies) are the CRM's; overlap_pct of them also exist in
 *             accounting under a variant spelling, cycling through: upper-cased name without
 *             punctuation ("ACME Inc"), swapped word order ("Logistics Łódź"), missing legal
 *             suffix, another email domain, and an exact copy. Companies [companies,
 *             companies + customers) exist only in accounting. Names (case-insensitively,
 *             per side), contact emails, product names and SKUs are unique, because both
 *             providers enforce some of these (QuickBooks DisplayName, HubSpot email).
 *             Money is int64 minor units; deal lines are priced in the deal's currency from
 *             the product's USD price through a fixed table of integer rates.
 *             won_pct, lines and usd_deals (0 = off) only change the draws of deals, so the
 *             world of a seed without them is what it always was: won_pct puts that share of
 *             the deals at "closedwon" (the rest at one of the other stages), lines fixes every
 *             deal's line count, usd_deals prices every deal in USD (benchmarks). HS_SBX_NONE
 *             in customers or overlap_pct gives none (an empty accounting side).
 * Invariants: every deal has 1..6 lines and a contact of its own company; when deals >=
 *             stages and won_pct is 0, every stage of hs_sbx_deal_stages occurs; close dates
 *             lie within 180 days of 2025-01-01 (fixed, not the clock, so worlds do not
 *             depend on time).
 * Ownership:  hs_sbx_world_release frees the arrays.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/sbx_int.h"
#include "util/alloc.h"

const char *const hs_sbx_deal_stages[] = {
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
};
const size_t hs_sbx_n_deal_stages = sizeof hs_sbx_deal_stages / sizeof hs_sbx_deal_stages[0];

#define DEFAULT_COMPANIES 40
#define DEFAULT_PRODUCTS  20
#define DEFAULT_DEALS     30
#define DEFAULT_CUSTOMERS 10
#define DEFAULT_OVERLAP   50
#define MAX_SIZE          1000000u
#define BASE_CLOSE_MS     1735689600000LL /* 2025-01-01T00:00:00Z */
#define DAY_MS            86400000LL
#define WON_STAGE         5 /* "closedwon" in hs_sbx_deal_stages */
#define MAX_LINES         6 /* lines[] of struct hs_sbx_deal */

struct nm {
    const char *u; /* UTF-8 display form */
    const char *a; /* ASCII form for domains and emails */
};

enum tax_kind { TAX_NONE, TAX_US, TAX_GB, TAX_DE, TAX_FR, TAX_PL, TAX_JP, TAX_AU, TAX_CA, TAX_BR };
enum post_kind { POST_5, POST_GB, POST_JP, POST_4, POST_CA, POST_BR, POST_PL };

struct country {
    const char *code;
    const char *currency;
    const char *tld;
    const char *phone_cc;
    bool nospace;       /* names are written without spaces (Japanese) */
    bool suffix_prefix; /* the legal form comes first (株式会社...) */
    struct nm classic;  /* root of the first company of this country */
    struct nm classic_ind;
    const char *suffixes[3];
    struct nm roots[10];
    struct nm inds[8];
    struct nm cities[5];
    const char *streets[4];
    bool number_first; /* "12 Main Street" vs "Hauptstraße 12" */
    struct nm first[8];
    struct nm last[8];
    enum tax_kind tax;
    enum post_kind post;
};

/* clang-format off */
static const struct country countries[] = {
    {"US", "USD", "com", "+1", false, false, {"Acme", "acme"}, {NULL, NULL},
     {", Inc.", ", LLC", " Corp."},
     {{"Acme", "acme"}, {"Globex", "globex"}, {"Initech", "initech"}, {"Stark", "stark"},
      {"Wayne", "wayne"}, {"Hooli", "hooli"}, {"Vandelay", "vandelay"}, {"Cyberdyne", "cyberdyne"},
      {"Soylent", "soylent"}, {"Umbrella", "umbrella"}},
     {{"Industries", "industries"}, {"Trading", "trading"}, {"Systems", "systems"},
      {"Foods", "foods"}, {"Logistics", "logistics"}, {"Labs", "labs"}, {"Partners", "partners"},
      {"Holdings", "holdings"}},
     {{"Boston", "boston"}, {"Austin", "austin"}, {"Denver", "denver"}, {"Seattle", "seattle"},
      {"Chicago", "chicago"}},
     {"Main Street", "Oak Avenue", "Market Street", "Elm Road"}, true,
     {{"James", "james"}, {"Mary", "mary"}, {"Robert", "robert"}, {"Patricia", "patricia"},
      {"John", "john"}, {"Jennifer", "jennifer"}, {"Michael", "michael"}, {"Linda", "linda"}},
     {{"Smith", "smith"}, {"Johnson", "johnson"}, {"Williams", "williams"}, {"Brown", "brown"},
      {"Jones", "jones"}, {"García", "garcia"}, {"Miller", "miller"}, {"O'Brien", "obrien"}},
     TAX_US, POST_5},
    {"DE", "EUR", "de", "+49", false, false, {"Müller", "mueller"}, {NULL, NULL},
     {" GmbH", " AG", " GmbH & Co. KG"},
     {{"Müller", "mueller"}, {"Schäfer", "schaefer"}, {"Weiß", "weiss"}, {"Böhm", "boehm"},
      {"Krüger", "krueger"}, {"Schröder", "schroeder"}, {"Hoffmann", "hoffmann"},
      {"Groß", "gross"}, {"Fischer", "fischer"}, {"Köhler", "koehler"}},
     {{"Logistik", "logistik"}, {"Maschinenbau", "maschinenbau"}, {"Bäckerei", "baeckerei"},
      {"Elektrotechnik", "elektrotechnik"}, {"Handel", "handel"}, {"Bau", "bau"},
      {"Verpackung", "verpackung"}, {"Software", "software"}},
     {{"München", "muenchen"}, {"Köln", "koeln"}, {"Düsseldorf", "duesseldorf"},
      {"Hamburg", "hamburg"}, {"Nürnberg", "nuernberg"}},
     {"Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schloßallee"}, false,
     {{"Jürgen", "juergen"}, {"Käthe", "kaethe"}, {"Lukas", "lukas"}, {"Sören", "soeren"},
      {"Anna", "anna"}, {"Jörg", "joerg"}, {"Lea", "lea"}, {"Uwe", "uwe"}},
     {{"Müller", "mueller"}, {"Schmidt", "schmidt"}, {"Schneider", "schneider"},
      {"Weber", "weber"}, {"Wagner", "wagner"}, {"Becker", "becker"}, {"Schulz", "schulz"},
      {"Jäger", "jaeger"}},
     TAX_DE, POST_5},
    {"PL", "PLN", "pl", "+48", false, false, {"Łódź", "lodz"}, {"Logistics", "logistics"},
     {" Sp. z o.o.", " S.A.", " sp.k."},
     {{"Łódź", "lodz"}, {"Kraków", "krakow"}, {"Gdańsk", "gdansk"}, {"Wrocław", "wroclaw"},
      {"Poznań", "poznan"}, {"Żabka", "zabka"}, {"Wisła", "wisla"}, {"Mazowsze", "mazowsze"},
      {"Śląsk", "slask"}, {"Bałtyk", "baltyk"}},
     {{"Logistics", "logistics"}, {"Budownictwo", "budownictwo"}, {"Meble", "meble"},
      {"Transport", "transport"}, {"Piekarnia", "piekarnia"}, {"Stal", "stal"},
      {"Energia", "energia"}, {"Handel", "handel"}},
     {{"Łódź", "lodz"}, {"Kraków", "krakow"}, {"Gdańsk", "gdansk"}, {"Lublin", "lublin"},
      {"Szczecin", "szczecin"}},
     {"ul. Piotrkowska", "ul. Długa", "ul. Kwiatowa", "al. Jerozolimskie"}, false,
     {{"Łukasz", "lukasz"}, {"Małgorzata", "malgorzata"}, {"Paweł", "pawel"},
      {"Zofia", "zofia"}, {"Michał", "michal"}, {"Agnieszka", "agnieszka"}, {"Jakub", "jakub"},
      {"Ewa", "ewa"}},
     {{"Wójcik", "wojcik"}, {"Kowalski", "kowalski"}, {"Nowak", "nowak"},
      {"Wiśniewski", "wisniewski"}, {"Kamińska", "kaminska"}, {"Lewandowski", "lewandowski"},
      {"Zieliński", "zielinski"}, {"Dąbrowska", "dabrowska"}},
     TAX_PL, POST_PL},
    {"FR", "EUR", "fr", "+33", false, false, {"Société Générale des Eaux", "sge"}, {NULL, NULL},
     {" SAS", " SARL", " SA"},
     {{"Lefèvre", "lefevre"}, {"Dubois", "dubois"}, {"Bénard", "benard"}, {"Château", "chateau"},
      {"Lumière", "lumiere"}, {"Mercier", "mercier"}, {"Étoile", "etoile"},
      {"Fontaine", "fontaine"}, {"Renée", "renee"}, {"Garçon", "garcon"}},
     {{"Conseil", "conseil"}, {"Électricité", "electricite"}, {"Transports", "transports"},
      {"Boulangerie", "boulangerie"}, {"Bâtiment", "batiment"}, {"Vins", "vins"},
      {"Édition", "edition"}, {"Immobilier", "immobilier"}},
     {{"Paris", "paris"}, {"Lyon", "lyon"}, {"Orléans", "orleans"}, {"Besançon", "besancon"},
      {"Nîmes", "nimes"}},
     {"rue de la Paix", "avenue des Champs-Élysées", "boulevard Saint-Michel",
      "rue du Faubourg"},
     true,
     {{"Hélène", "helene"}, {"François", "francois"}, {"Amélie", "amelie"},
      {"Jérôme", "jerome"}, {"Zoé", "zoe"}, {"Cédric", "cedric"}, {"Léa", "lea"},
      {"Noël", "noel"}},
     {{"Lefèvre", "lefevre"}, {"Martin", "martin"}, {"Bernard", "bernard"},
      {"Girard", "girard"}, {"Rousseau", "rousseau"}, {"Lambert", "lambert"},
      {"Bonnet", "bonnet"}, {"Fournier", "fournier"}},
     TAX_FR, POST_5},
    {"GB", "GBP", "co.uk", "+44", false, false, {"Tesco", "tesco"}, {"Supplies", "supplies"},
     {" Ltd", " PLC", " Limited"},
     {{"Tesco", "tesco"}, {"Barrow", "barrow"}, {"Whitby", "whitby"}, {"Ashford", "ashford"},
      {"Kensington", "kensington"}, {"Thames", "thames"}, {"Pennine", "pennine"},
      {"Cotswold", "cotswold"}, {"Hadley", "hadley"}, {"Brontë", "bronte"}},
     {{"Supplies", "supplies"}, {"Engineering", "engineering"}, {"Brewing", "brewing"},
      {"Consulting", "consulting"}, {"Textiles", "textiles"}, {"Motors", "motors"},
      {"Publishing", "publishing"}, {"Freight", "freight"}},
     {{"London", "london"}, {"Leeds", "leeds"}, {"Bristol", "bristol"}, {"York", "york"},
      {"Manchester", "manchester"}},
     {"High Street", "Station Road", "Church Lane", "King's Road"}, true,
     {{"Oliver", "oliver"}, {"Amelia", "amelia"}, {"Harry", "harry"}, {"Isla", "isla"},
      {"George", "george"}, {"Siân", "sian"}, {"Rhys", "rhys"}, {"Eleanor", "eleanor"}},
     {{"Taylor", "taylor"}, {"Davies", "davies"}, {"Evans", "evans"}, {"Wilson", "wilson"},
      {"Thomas", "thomas"}, {"Roberts", "roberts"}, {"Walker", "walker"}, {"Wright", "wright"}},
     TAX_GB, POST_GB},
    {"JP", "JPY", "co.jp", "+81", true, true, {"山田", "yamada"}, {"製作所", "seisakusho"},
     {"株式会社", "株式会社", "合同会社"},
     {{"山田", "yamada"}, {"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"},
      {"田中", "tanaka"}, {"渡辺", "watanabe"}, {"伊藤", "ito"}, {"中村", "nakamura"},
      {"小林", "kobayashi"}, {"加藤", "kato"}},
     {{"製作所", "seisakusho"}, {"商事", "shoji"}, {"物産", "bussan"}, {"電機", "denki"},
      {"工業", "kogyo"}, {"食品", "shokuhin"}, {"運輸", "unyu"}, {"建設", "kensetsu"}},
     {{"東京", "tokyo"}, {"大阪", "osaka"}, {"名古屋", "nagoya"}, {"札幌", "sapporo"},
      {"福岡", "fukuoka"}},
     {"丸の内", "梅田", "栄", "大通"}, false,
     {{"太郎", "taro"}, {"花子", "hanako"}, {"翔", "sho"}, {"結衣", "yui"}, {"大輔", "daisuke"},
      {"美咲", "misaki"}, {"健", "ken"}, {"さくら", "sakura"}},
     {{"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"}, {"田中", "tanaka"},
      {"伊藤", "ito"}, {"山本", "yamamoto"}, {"中村", "nakamura"}, {"小林", "kobayashi"}},
     TAX_JP, POST_JP},
    {"KW", "KWD", "com.kw", "+965", false, false, {"Al-Sabah", "alsabah"}, {"Trading", "trading"},
     {" W.L.L.", " K.S.C.C.", " Co."},
     {{"Al-Sabah", "alsabah"}, {"Al-Ghanim", "alghanim"}, {"Al-Bahar", "albahar"},
      {"Gulf", "gulf"}, {"Al-Mulla", "almulla"}, {"Boodai", "boodai"}, {"Al-Kharafi", "alkharafi"},
      {"Marafie", "marafie"}, {"Al-Shaya", "alshaya"}, {"Behbehani", "behbehani"}},
     {{"Trading", "trading"}, {"Contracting", "contracting"}, {"General Trading", "gt"},
      {"Petroleum Services", "petroleum"}, {"Foodstuff", "foodstuff"}, {"Marine", "marine"},
      {"Electronics", "electronics"}, {"Real Estate", "realestate"}},
     {{"Kuwait City", "kuwaitcity"}, {"Hawalli", "hawalli"}, {"Salmiya", "salmiya"},
      {"Farwaniya", "farwaniya"}, {"Jahra", "jahra"}},
     {"Gulf Road", "Fahad Al-Salem Street", "Arabian Gulf Street", "Block 3 Street 12"}, false,
     {{"Fatima", "fatima"}, {"Ahmad", "ahmad"}, {"Noura", "noura"}, {"Khaled", "khaled"},
      {"Mariam", "mariam"}, {"Yousef", "yousef"}, {"Hessa", "hessa"}, {"Omar", "omar"}},
     {{"Al-Sabah", "alsabah"}, {"Al-Rashid", "alrashid"}, {"Al-Enezi", "alenezi"},
      {"Al-Mutairi", "almutairi"}, {"Al-Ajmi", "alajmi"}, {"Hayat", "hayat"},
      {"Al-Qattan", "alqattan"}, {"Dashti", "dashti"}},
     TAX_NONE, POST_5},
    {"AU", "AUD", "com.au", "+61", false, false, {"Kangaroo", "kangaroo"}, {"Freight", "freight"},
     {" Pty Ltd", " Pty. Ltd.", " Ltd"},
     {{"Kangaroo", "kangaroo"}, {"Wattle", "wattle"}, {"Coral", "coral"}, {"Outback", "outback"},
      {"Banksia", "banksia"}, {"Southern Cross", "southerncross"}, {"Eucalypt", "eucalypt"},
      {"Bondi", "bondi"}, {"Karri", "karri"}, {"Murray", "murray"}},
     {{"Freight", "freight"}, {"Mining", "mining"}, {"Wines", "wines"}, {"Surf", "surf"},
      {"Agriculture", "agriculture"}, {"Solar", "solar"}, {"Builders", "builders"},
      {"Health", "health"}},
     {{"Sydney", "sydney"}, {"Melbourne", "melbourne"}, {"Perth", "perth"},
      {"Brisbane", "brisbane"}, {"Adelaide", "adelaide"}},
     {"George Street", "Collins Street", "Queen Street", "Hay Street"}, true,
     {{"Jack", "jack"}, {"Charlotte", "charlotte"}, {"Noah", "noah"}, {"Olivia", "olivia"},
      {"William", "william"}, {"Mia", "mia"}, {"Lachlan", "lachlan"}, {"Chloé", "chloe"}},
     {{"Nguyen", "nguyen"}, {"Smith", "smith"}, {"Kelly", "kelly"}, {"Ryan", "ryan"},
      {"Murphy", "murphy"}, {"Campbell", "campbell"}, {"Stewart", "stewart"},
      {"Anderson", "anderson"}},
     TAX_AU, POST_4},
    {"CA", "CAD", "ca", "+1", false, false, {"Érable", "erable"}, {"Supplies", "supplies"},
     {" Inc.", " Ltd.", " Ltée"},
     {{"Érable", "erable"}, {"Maple Leaf", "mapleleaf"}, {"Laurentide", "laurentide"},
      {"Huron", "huron"}, {"Boréal", "boreal"}, {"Fraser", "fraser"}, {"Québec", "quebec"},
      {"Rideau", "rideau"}, {"Algonquin", "algonquin"}, {"Yukon", "yukon"}},
     {{"Supplies", "supplies"}, {"Timber", "timber"}, {"Fisheries", "fisheries"},
      {"Hydro", "hydro"}, {"Distribution", "distribution"}, {"Aérospatiale", "aerospatiale"},
      {"Outfitters", "outfitters"}, {"Software", "software"}},
     {{"Montréal", "montreal"}, {"Toronto", "toronto"}, {"Vancouver", "vancouver"},
      {"Québec", "quebec"}, {"Calgary", "calgary"}},
     {"Rue Sainte-Catherine", "Yonge Street", "Robson Street", "Boulevard René-Lévesque"},
     true,
     {{"Émile", "emile"}, {"Chloé", "chloe"}, {"Liam", "liam"}, {"Maëlle", "maelle"},
      {"Ethan", "ethan"}, {"Sophie", "sophie"}, {"Félix", "felix"}, {"Olivia", "olivia"}},
     {{"Tremblay", "tremblay"}, {"Gagnon", "gagnon"}, {"Roy", "roy"}, {"Côté", "cote"},
      {"Bouchard", "bouchard"}, {"Gauthier", "gauthier"}, {"MacDonald", "macdonald"},
      {"Lévesque", "levesque"}},
     TAX_CA, POST_CA},
    {"BR", "BRL", "com.br", "+55", false, false, {"Açaí", "acai"}, {"Alimentos", "alimentos"},
     {" Ltda.", " S.A.", " EIRELI"},
     {{"Açaí", "acai"}, {"São Jorge", "saojorge"}, {"Ipê", "ipe"}, {"Paraná", "parana"},
      {"Guaraná", "guarana"}, {"Tijuca", "tijuca"}, {"Aurora", "aurora"},
      {"Piracicaba", "piracicaba"}, {"Goiás", "goias"}, {"Maracanã", "maracana"}},
     {{"Alimentos", "alimentos"}, {"Construções", "construcoes"}, {"Comércio", "comercio"},
      {"Têxtil", "textil"}, {"Logística", "logistica"}, {"Tecnologia", "tecnologia"},
      {"Agropecuária", "agropecuaria"}, {"Energia", "energia"}},
     {{"São Paulo", "saopaulo"}, {"Rio de Janeiro", "rio"}, {"Belo Horizonte", "bh"},
      {"Curitiba", "curitiba"}, {"Brasília", "brasilia"}},
     {"Avenida Paulista", "Rua Augusta", "Rua das Flores", "Avenida Atlântica"}, false,
     {{"João", "joao"}, {"Conceição", "conceicao"}, {"Luís", "luis"}, {"Ana", "ana"},
      {"Antônio", "antonio"}, {"Fernanda", "fernanda"}, {"Sebastião", "sebastiao"},
      {"Letícia", "leticia"}},
     {{"Silva", "silva"}, {"Santos", "santos"}, {"Oliveira", "oliveira"}, {"Souza", "souza"},
      {"Gonçalves", "goncalves"}, {"Araújo", "araujo"}, {"Ribeiro", "ribeiro"},
      {"Magalhães", "magalhaes"}},
     TAX_BR, POST_BR},
};
/* clang-format on */

#define N_COUNTRIES (sizeof countries / sizeof countries[0])

/* Weights of countries for companies after the first N_COUNTRIES (US-heavy, like real CRMs). */
static const unsigned country_weight[N_COUNTRIES] = {30, 12, 6, 10, 14, 6, 3, 7, 7, 5};

/* Micro-units of each currency per 1 USD and its ISO 4217 exponent: the one exchange-rate
 * table of the sandbox (modules read it through hs_sbx_fx_*). */
struct fx {
    const char *code;
    int64_t per_usd_micro;
    int exp;
};
static const struct fx fx_table[] = {
    {"USD", 1000000, 2}, {"EUR", 920000, 2},    {"PLN", 4000000, 2},
    {"GBP", 790000, 2},  {"JPY", 150000000, 0}, {"KWD", 307000, 3},
    {"AUD", 1520000, 2}, {"CAD", 1360000, 2},   {"BRL", 5000000, 2},
};

size_t hs_sbx_fx_count(void)
{
    return sizeof fx_table / sizeof fx_table[0];
}

const char *hs_sbx_fx_code(size_t i)
{
    return i < hs_sbx_fx_count() ? fx_table[i].code : NULL;
}

int64_t hs_sbx_fx_per_usd_micro(const char *code)
{
    for (size_t k = 0; k < hs_sbx_fx_count(); k++)
        if (strcmp(fx_table[k].code, code) == 0)
            return fx_table[k].per_usd_micro;
    return 0;
}

static const struct nm products[] = {
    {"Widget", "widget"},
    {"Gadget", "gadget"},
    {"Sprocket", "sprocket"},
    {"Support plan", "support"},
    {"Consulting day", "consulting"},
    {"Licence seat", "licence"},
    {"Sensor kit", "sensor"},
    {"Cloud storage 1 TB", "storage"},
    {"Onboarding package", "onboarding"},
    {"Café espresso machine", "espresso"},
    {"Ergonomic chair", "chair"},
    {"Training session", "training"},
};
static const char *const tiers[] = {"Basic", "Standard", "Pro", "Enterprise", "Mini", "XL"};

enum variant { V_CASE, V_SWAP, V_NOSUFFIX, V_EMAIL, V_EXACT, N_VARIANTS };

/* ---- small helpers ---- */

/* snprintf that may truncate on purpose (fields are fixed-size arrays). */
static void put(char *out, size_t size, const char *fmt, ...) HS_PRINTF(3, 4);
static void put(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

static uint64_t below(struct hs_rng *r, uint64_t n)
{
    return n == 0 ? 0 : hs_rng_below(r, n);
}

static size_t n_nm(const struct nm *v, size_t max)
{
    size_t n = 0;
    while (n < max && v[n].u != NULL)
        n++;
    return n;
}

/* ASCII lower-case copy of s with runs of non-alphanumerics turned into one '-'. */
static void slugify(const char *s, char *out, size_t size)
{
    size_t o = 0;
    bool dash = false;
    for (; *s != '\0' && o + 1 < size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
            if (dash && o > 0 && o + 2 < size)
                out[o++] = '-';
            dash = false;
            out[o++] = (char)c;
        } else {
            dash = true;
        }
    }
    out[o] = '\0';
}

static void lower_ascii(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s != '\0' && o + 1 < size; s++) {
        char c = *s;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = c;
    }
    out[o] = '\0';
}

static void digits(struct hs_rng *r, int *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] = (int)below(r, 10);
}

static int luhn_check(const int *d, size_t n) /* check digit appended after d[0..n) */
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = d[n - 1 - i];
        if (i % 2 == 0) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return (10 - sum % 10) % 10;
}

/* ---- tax ids ---- */

static void tax_id(struct hs_rng *r, enum tax_kind kind, char *out, size_t size)
{
    int d[16];
    switch (kind) {
    case TAX_NONE:
        out[0] = '\0';
        return;
    case TAX_US:
        digits(r, d, 9);
        put(out, size, "%d%d-%d%d%d%d%d%d%d", 1 + (int)below(r, 9), d[1], d[2], d[3], d[4], d[5],
            d[6], d[7], d[8]);
        return;
    case TAX_GB: {
        /* 7 digits weighted 8..2, then 2 check digits making the sum divisible by 97 */
        int sum;
        do {
            digits(r, d, 7);
            d[0] = 1 + (int)below(r, 9);
            sum = 0;
            for (int i = 0; i < 7; i++)
                sum += d[i] * (8 - i);
        } while (sum % 97 == 0);
        int check = 97 - sum % 97;
        put(out, size, "GB%d%d%d%d%d%d%d%02d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], check);
        return;
    }
    case TAX_DE: {
        /* ISO 7064 MOD 11,10 over 8 digits */
        digits(r, d, 8);
        d[0] = 1 + (int)below(r, 9);
        int product = 10;
        for (int i = 0; i < 8; i++) {
            int sum = (d[i] + product) % 10;
            if (sum == 0)
                sum = 10;
            product = (2 * sum) % 11;
        }
        int check = 11 - product;
        if (check == 10)
            check = 0;
        put(out, size, "DE%d%d%d%d%d%d%d%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            check);
        return;
    }
    case TAX_FR: {
        /* SIREN: 8 digits + Luhn; key = (12 + 3 * (SIREN mod 97)) mod 97 */
        digits(r, d, 8);
        d[0] = 1 + (int)below(r, 9);
        d[8] = luhn_check(d, 8);
        int64_t siren = 0;
        for (int i = 0; i < 9; i++)
            siren = siren * 10 + d[i];
        int key = (int)((12 + 3 * (siren % 97)) % 97);
        put(out, size, "FR%02d%09lld", key, (long long)siren);
        return;
    }
    case TAX_PL: {
        static const int w[9] = {6, 5, 7, 2, 3, 4, 5, 6, 7};
        int check;
        do {
            digits(r, d, 9);
            d[0] = 1 + (int)below(r, 9);
            int sum = 0;
            for (int i = 0; i < 9; i++)
                sum += d[i] * w[i];
            check = sum % 11;
        } while (check == 10);
        put(out, size, "PL%d%d%d%d%d%d%d%d%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            d[8], check);
        return;
    }
    case TAX_JP: {
        /* corporate number: check digit first, over 12 digits weighted 1,2 from the right */
        digits(r, d, 12);
        int sum = 0;
        for (int n = 1; n <= 12; n++)
            sum += d[12 - n] * ((n % 2) ? 1 : 2);
        int check = 9 - sum % 9;
        put(out, size, "%d%d%d%d%d%d%d%d%d%d%d%d%d", check, d[0], d[1], d[2], d[3], d[4], d[5],
            d[6], d[7], d[8], d[9], d[10], d[11]);
        return;
    }
    case TAX_AU: {
        /* ABN: subtract 1 from the first digit, weights 10,1,3,..,19, sum % 89 == 0 */
        static const int w[11] = {10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19};
        digits(r, d, 11);
        int rest = 0;
        for (int i = 2; i < 11; i++)
            rest += d[i] * w[i];
        int v = (89 - rest % 89) % 89; /* (d0 - 1) * 10 + d1 must be v (mod 89) */
        d[0] = v / 10 + 1;
        d[1] = v % 10;
        put(out, size, "%d%d %d%d%d %d%d%d %d%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            d[8], d[9], d[10]);
        return;
    }
    case TAX_CA:
        digits(r, d, 8);
        d[0] = 1 + (int)below(r, 9);
        d[8] = luhn_check(d, 8);
        put(out, size, "%d%d%d%d%d%d%d%d%dRT0001", d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
            d[8]);
        return;
    case TAX_BR: {
        /* CNPJ: 8 digits + 0001 + 2 mod-11 check digits */
        static const int w1[12] = {5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
        static const int w2[13] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
        digits(r, d, 8);
        d[8] = 0;
        d[9] = 0;
        d[10] = 0;
        d[11] = 1;
        int s = 0;
        for (int i = 0; i < 12; i++)
            s += d[i] * w1[i];
        d[12] = s % 11 < 2 ? 0 : 11 - s % 11;
        s = 0;
        for (int i = 0; i < 13; i++)
            s += d[i] * w2[i];
        d[13] = s % 11 < 2 ? 0 : 11 - s % 11;
        put(out, size, "%d%d.%d%d%d.%d%d%d/0001-%d%d", d[0], d[1], d[2], d[3], d[4], d[5], d[6],
            d[7], d[12], d[13]);
        return;
    }
    }
    out[0] = '\0';
}

static void postcode(struct hs_rng *r, enum post_kind kind, char *out, size_t size)
{
    static const char L[] = "ABCDEFGHJKLMNPRSTUVWXY";
    /* draw every value first: argument evaluation order is unspecified */
    char l[4];
    int d[4];
    for (int i = 0; i < 4; i++)
        l[i] = L[below(r, sizeof L - 1)];
    for (int i = 0; i < 4; i++)
        d[i] = (int)below(r, 10000);
    switch (kind) {
    case POST_5:
        put(out, size, "%05d", 10000 + d[0] % 89999);
        return;
    case POST_4:
        put(out, size, "%04d", 2000 + d[0] % 5000);
        return;
    case POST_GB:
        put(out, size, "%c%c%d %d%c%c", l[0], l[1], 1 + d[0] % 20, d[1] % 10, l[2], l[3]);
        return;
    case POST_JP:
        put(out, size, "%03d-%04d", 100 + d[0] % 800, d[1]);
        return;
    case POST_CA:
        put(out, size, "%c%d%c %d%c%d", l[0], d[0] % 10, l[1], d[1] % 10, l[2], d[2] % 10);
        return;
    case POST_BR:
        put(out, size, "%05d-%03d", 1000 + d[0] * 9 % 98000, d[1] % 1000);
        return;
    case POST_PL:
        put(out, size, "%02d-%03d", 10 + d[0] % 89, d[1] % 1000);
        return;
    }
    out[0] = '\0';
}

static void phone(struct hs_rng *r, const struct country *c, char *out, size_t size)
{
    int area = 20 + (int)below(r, 70);
    int mid = (int)below(r, 1000);
    int last = (int)below(r, 10000);
    put(out, size, "%s %d %03d %04d", c->phone_cc, area, mid, last);
}

/* ---- names ---- */

struct name_parts {
    const struct country *c;
    struct nm root;
    struct nm ind;  /* .u NULL when absent */
    struct nm city; /* .u NULL when absent */
    const char *suffix;
    unsigned number; /* 0 = none */
};

/* Writes the display name in one of the variant spellings. */
static void compose(const struct name_parts *p, enum variant v, char *out, size_t size)
{
    const char *sp = p->c->nospace ? "" : " ";
    const char *w1 = p->root.u;
    const char *w2 = p->ind.u;
    if (v == V_SWAP && w2 != NULL) {
        w1 = p->ind.u;
        w2 = p->root.u;
    }
    char upper[128];
    if (v == V_CASE) {
        size_t i = 0;
        for (; w1[i] != '\0' && i + 1 < sizeof upper; i++)
            upper[i] = (w1[i] >= 'a' && w1[i] <= 'z') ? (char)(w1[i] - 'a' + 'A') : w1[i];
        upper[i] = '\0';
        w1 = upper;
    }
    char core[160];
    put(core, sizeof core, "%s%s%s%s%s", w1, w2 ? sp : "", w2 ? w2 : "", p->city.u ? sp : "",
        p->city.u ? p->city.u : "");
    char num[16] = "";
    if (p->number > 0)
        put(num, sizeof num, "%s%u", p->c->nospace ? "" : " ", p->number);
    char suffix[48] = "";
    if (v != V_NOSUFFIX) {
        if (v == V_CASE) { /* "ACME Inc": no comma, no final period */
            const char *s = p->suffix;
            size_t o = 0;
            if (*s == ',')
                s++;
            for (; *s != '\0' && o + 1 < sizeof suffix; s++)
                if (*s != ',' && !(*s == '.' && s[1] == '\0'))
                    suffix[o++] = *s;
            suffix[o] = '\0';
        } else {
            put(suffix, sizeof suffix, "%s", p->suffix);
        }
    }
    if (p->c->suffix_prefix)
        put(out, size, "%s%s%s", suffix, core, num);
    else
        put(out, size, "%s%s%s", core, num, suffix);
}

static void compose_slug(const struct name_parts *p, char *out, size_t size)
{
    char raw[160];
    put(raw, sizeof raw, "%s %s %s", p->root.a, p->ind.a ? p->ind.a : "",
        p->city.a ? p->city.a : "");
    if (p->number > 0) {
        size_t n = strlen(raw);
        put(raw + n, sizeof raw - n, " %u", p->number);
    }
    slugify(raw, out, size);
}

/* Adds the lower-cased name to set; false when it was already there (or on ENOMEM). */
static int claim(struct hs_sbx_map *set, const char *name, bool *out_new)
{
    char key[160];
    lower_ascii(name, key, sizeof key);
    if (hs_sbx_map_get(set, key) != NULL) {
        *out_new = false;
        return HS_OK;
    }
    *out_new = true;
    return hs_sbx_map_put(set, key, (void *)set); /* any non-NULL marker */
}

struct gen {
    struct hs_rng r;
    struct hs_sbx_map crm_names;
    struct hs_sbx_map acct_names;
    struct hs_sbx_map emails;
    struct hs_sbx_map items;
    unsigned won_pct; /* sizes->won_pct */
    size_t lines;     /* sizes->lines */
    bool usd_deals;   /* sizes->usd_deals */
};

static size_t pick_country(struct gen *g, size_t i)
{
    if (i < N_COUNTRIES)
        return i;
    unsigned total = 0;
    for (size_t k = 0; k < N_COUNTRIES; k++)
        total += country_weight[k];
    uint64_t x = below(&g->r, total);
    for (size_t k = 0; k < N_COUNTRIES; k++) {
        if (x < country_weight[k])
            return k;
        x -= country_weight[k];
    }
    return 0;
}

/* Fills the company's CRM side (name, domain, address, tax id). claim_crm: name must be unique
 * among CRM names (else among accounting names). */
static int make_company(struct gen *g, size_t i, bool crm, struct hs_sbx_company *co,
                        struct name_parts *np)
{
    size_t ci = pick_country(g, i);
    const struct country *c = &countries[ci];
    memset(np, 0, sizeof *np);
    np->c = c;
    bool classic = i == ci && crm; /* first company of each country */
    size_t n_roots = n_nm(c->roots, 10);
    size_t n_inds = n_nm(c->inds, 8);
    size_t n_cities = n_nm(c->cities, 5);
    if (classic) {
        np->root = c->classic;
        np->ind = c->classic_ind;
        np->suffix = c->suffixes[0];
    } else {
        np->root = c->roots[below(&g->r, n_roots)];
        if (below(&g->r, 10) < 7)
            np->ind = c->inds[below(&g->r, n_inds)];
        np->suffix = c->suffixes[below(&g->r, 3)];
    }
    struct hs_sbx_map *set = crm ? &g->crm_names : &g->acct_names;
    for (unsigned attempt = 0;; attempt++) {
        if (attempt >= 1 && attempt <= 3)
            np->city = c->cities[below(&g->r, n_cities)];
        if (attempt >= 4)
            np->number = attempt - 2;
        compose(np, V_EXACT, co->name, sizeof co->name);
        bool fresh = false;
        int rc = claim(set, co->name, &fresh);
        if (rc != HS_OK)
            return rc;
        if (fresh)
            break;
    }
    char slug[80];
    compose_slug(np, slug, sizeof slug);
    put(co->domain, sizeof co->domain, "%s.%s", slug, c->tld);
    put(co->acct_email, sizeof co->acct_email, "accounts@%s", co->domain);
    phone(&g->r, c, co->phone, sizeof co->phone);
    const char *street = c->streets[below(&g->r, 4)];
    int num = 1 + (int)below(&g->r, 250);
    if (c->number_first)
        put(co->street, sizeof co->street, "%d %s", num, street);
    else
        put(co->street, sizeof co->street, "%s %d", street, num);
    const struct nm *city = &c->cities[below(&g->r, n_cities)];
    put(co->city, sizeof co->city, "%s", city->u);
    postcode(&g->r, c->post, co->postcode, sizeof co->postcode);
    put(co->country, sizeof co->country, "%s", c->code);
    put(co->currency, sizeof co->currency, "%s", c->currency);
    tax_id(&g->r, c->tax, co->tax_id, sizeof co->tax_id);
    co->in_crm = crm;
    co->in_accounting = !crm;
    if (!crm)
        put(co->acct_name, sizeof co->acct_name, "%s", co->name);
    return HS_OK;
}

/* Gives an overlapping company its accounting spelling. */
static int make_acct_side(struct gen *g, struct hs_sbx_company *co, const struct name_parts *np,
                          enum variant v)
{
    co->in_accounting = true;
    for (unsigned attempt = 0;; attempt++) {
        struct name_parts q = *np;
        enum variant use = v;
        if (use == V_SWAP && (q.ind.u == NULL || q.c->nospace))
            use = V_NOSUFFIX;
        if (attempt > 0)
            q.number = np->number + attempt + 1;
        compose(&q, use == V_EMAIL ? V_EXACT : use, co->acct_name, sizeof co->acct_name);
        if (use == V_CASE && strcmp(co->acct_name, co->name) == 0)
            compose(&q, V_NOSUFFIX, co->acct_name, sizeof co->acct_name);
        bool fresh = false;
        int rc = claim(&g->acct_names, co->acct_name, &fresh);
        if (rc != HS_OK)
            return rc;
        if (fresh)
            break;
    }
    if (v == V_EMAIL) {
        char slug[80];
        compose_slug(np, slug, sizeof slug);
        static const char *const hosts[] = {"billing-mail.com", "ledgerpost.net", "invoices.io"};
        put(co->acct_email, sizeof co->acct_email, "ap.%s@%s", slug, hosts[below(&g->r, 3)]);
    }
    return HS_OK;
}

static int make_person(struct gen *g, const struct hs_sbx_world *w, size_t company,
                       struct hs_sbx_person *p)
{
    const struct hs_sbx_company *co = &w->companies[company];
    const struct country *c = &countries[0];
    for (size_t k = 0; k < N_COUNTRIES; k++)
        if (strcmp(countries[k].code, co->country) == 0)
            c = &countries[k];
    const struct nm *f = &c->first[below(&g->r, n_nm(c->first, 8))];
    const struct nm *l = &c->last[below(&g->r, n_nm(c->last, 8))];
    put(p->first, sizeof p->first, "%s", f->u);
    put(p->last, sizeof p->last, "%s", l->u);
    p->company = company;
    for (unsigned n = 0;; n++) {
        char local[64];
        if (n == 0)
            put(local, sizeof local, "%s.%s", f->a, l->a);
        else
            put(local, sizeof local, "%s.%s%u", f->a, l->a, n + 1);
        put(p->email, sizeof p->email, "%s@%s", local, co->domain);
        bool fresh = false;
        int rc = claim(&g->emails, p->email, &fresh);
        if (rc != HS_OK)
            return rc;
        if (fresh)
            break;
    }
    phone(&g->r, c, p->phone, sizeof p->phone);
    return HS_OK;
}

static int make_product(struct gen *g, size_t i, struct hs_sbx_product *p)
{
    size_t n_products = sizeof products / sizeof products[0];
    size_t n_tiers = sizeof tiers / sizeof tiers[0];
    const struct nm *base = &products[i < n_products ? i : below(&g->r, n_products)];
    const char *tier = tiers[below(&g->r, n_tiers)];
    for (unsigned n = 0;; n++) {
        if (n == 0)
            put(p->name, sizeof p->name, "%s %s", base->u, tier);
        else
            put(p->name, sizeof p->name, "%s %s %u", base->u, tier, n + 1);
        bool fresh = false;
        int rc = claim(&g->items, p->name, &fresh);
        if (rc != HS_OK)
            return rc;
        if (fresh)
            break;
    }
    put(p->sku, sizeof p->sku, "SKU-%05zu", i + 1);
    put(p->description, sizeof p->description, "%s edition of our %s — billed per unit", tier,
        base->u);
    /* USD cents: mostly round prices, some .99 */
    int64_t dollars = 5 + (int64_t)below(&g->r, 2000);
    p->price_minor = dollars * 100 + (below(&g->r, 4) == 0 ? 99 : 0);
    put(p->currency, sizeof p->currency, "USD");
    p->in_accounting = below(&g->r, 100) < 85;
    return HS_OK;
}

/* Converts USD cents into minor units of currency, rounding half up. */
static int64_t from_usd(int64_t cents, const char *currency)
{
    for (size_t k = 0; k < sizeof fx_table / sizeof fx_table[0]; k++) {
        if (strcmp(fx_table[k].code, currency) != 0)
            continue;
        int64_t scale = 1;
        for (int e = 0; e < fx_table[k].exp; e++)
            scale *= 10;
        /* cents * rate_micro * 10^exp / (10^6 * 100) */
        int64_t num = cents * fx_table[k].per_usd_micro * scale;
        int64_t den = 100000000;
        return (num + den / 2) / den;
    }
    return cents;
}

/* A deal of a random contact's company, so that the contact works there. */
static void make_deal(struct gen *g, size_t i, struct hs_sbx_world *w)
{
    struct hs_sbx_deal *d = &w->deals[i];
    d->contact = (size_t)below(&g->r, w->n_persons);
    d->company = w->persons[d->contact].company;
    const struct hs_sbx_company *co = &w->companies[d->company];
    put(d->currency, sizeof d->currency, "%s", g->usd_deals ? "USD" : co->currency);
    if (g->won_pct == 0)
        d->stage = i < hs_sbx_n_deal_stages ? (int)i : (int)below(&g->r, hs_sbx_n_deal_stages);
    else if (below(&g->r, 100) < g->won_pct)
        d->stage = (int)WON_STAGE;
    else { /* any other stage */
        d->stage = (int)below(&g->r, hs_sbx_n_deal_stages - 1);
        d->stage += d->stage >= (int)WON_STAGE;
    }
    int64_t offset_days = (int64_t)below(&g->r, 361) - 180;
    d->close_ms = BASE_CLOSE_MS + offset_days * DAY_MS;
    d->n_lines = g->lines != 0 ? g->lines : 1 + (size_t)below(&g->r, 6);
    for (size_t k = 0; k < d->n_lines; k++) {
        struct hs_sbx_deal_line *l = &d->lines[k];
        l->product = (size_t)below(&g->r, w->n_products);
        l->quantity = 1 + (int64_t)below(&g->r, 20);
        int64_t price = from_usd(w->products[l->product].price_minor, d->currency);
        if (below(&g->r, 5) == 0) /* negotiated: -10%..+10% */
            price = price * (90 + (int64_t)below(&g->r, 21)) / 100;
        l->price_minor = price;
        l->discount_pct = below(&g->r, 10) < 7 ? 0 : (int32_t)(5 * (1 + below(&g->r, 4)));
    }
    put(d->name, sizeof d->name, "%s — deal %zu", co->name, i + 1);
}

void hs_sbx_world_release(struct hs_sbx_world *w)
{
    if (w == NULL)
        return;
    hs_free(w->companies);
    hs_free(w->persons);
    hs_free(w->products);
    hs_free(w->deals);
    memset(w, 0, sizeof *w);
}

static size_t dflt(unsigned v, size_t d)
{
    return v ? (size_t)v : d;
}

int hs_sbx_world_generate(uint64_t seed, const struct hs_sbx_sizes *sizes, struct hs_sbx_world *out)
{
    memset(out, 0, sizeof *out);
    struct hs_sbx_sizes z = {0};
    if (sizes == NULL)
        sizes = &z;
    size_t n_crm = dflt(sizes->companies, DEFAULT_COMPANIES);
    size_t n_persons = dflt(sizes->contacts, 2 * n_crm);
    size_t n_products = dflt(sizes->products, DEFAULT_PRODUCTS);
    size_t n_deals = dflt(sizes->deals, DEFAULT_DEALS);
    size_t n_cust = sizes->customers == HS_SBX_NONE ? 0 : dflt(sizes->customers, DEFAULT_CUSTOMERS);
    unsigned pct = sizes->overlap_pct == HS_SBX_NONE ? 0
                   : sizes->overlap_pct              ? sizes->overlap_pct
                                                     : DEFAULT_OVERLAP;
    if (n_crm > MAX_SIZE || n_persons > MAX_SIZE || n_products > MAX_SIZE || n_deals > MAX_SIZE ||
        n_cust > MAX_SIZE || pct > 100 || sizes->won_pct > 100 || sizes->lines > MAX_LINES ||
        sizes->usd_deals > 1)
        return HS_ERANGE;

    struct gen g;
    hs_rng_seed(&g.r, seed);
    g.won_pct = sizes->won_pct;
    g.lines = sizes->lines;
    g.usd_deals = sizes->usd_deals != 0;
    hs_sbx_map_init(&g.crm_names, NULL);
    hs_sbx_map_init(&g.acct_names, NULL);
    hs_sbx_map_init(&g.emails, NULL);
    hs_sbx_map_init(&g.items, NULL);
    struct name_parts *parts = NULL;
    size_t *order = NULL;
    bool *chosen = NULL;
    int rc = HS_ENOMEM;

    out->n_companies = n_crm + n_cust;
    out->companies = hs_calloc(out->n_companies, sizeof *out->companies);
    out->n_persons = n_persons;
    out->persons = hs_calloc(n_persons, sizeof *out->persons);
    out->n_products = n_products;
    out->products = hs_calloc(n_products, sizeof *out->products);
    out->n_deals = n_deals;
    out->deals = hs_calloc(n_deals, sizeof *out->deals);
    parts = hs_calloc(out->n_companies, sizeof *parts);
    order = hs_calloc(n_crm, sizeof *order);
    chosen = hs_calloc(n_crm, sizeof *chosen);
    if (!out->companies || !out->persons || !out->products || !out->deals || !parts || !order ||
        !chosen)
        goto fail;

    /* CRM companies */
    for (size_t i = 0; i < n_crm; i++) {
        rc = make_company(&g, i, true, &out->companies[i], &parts[i]);
        if (rc != HS_OK)
            goto fail;
    }
    /* overlap: the classics first, then a seeded choice of the rest */
    size_t k_overlap = (n_crm * pct + 50) / 100;
    for (size_t i = 0; i < n_crm; i++)
        order[i] = i;
    size_t fixed = n_crm < N_COUNTRIES ? n_crm : N_COUNTRIES;
    for (size_t i = n_crm; i > fixed + 1; i--) { /* shuffle order[fixed..n_crm) */
        size_t j = fixed + (size_t)below(&g.r, i - fixed);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (size_t k = 0; k < k_overlap && k < n_crm; k++)
        chosen[order[k]] = true;
    /* the classics' spellings are fixed (US "ACME Inc", PL "Logistics Łódź", ...) */
    static const enum variant classic_variant[N_COUNTRIES] = {
        V_CASE, V_NOSUFFIX, V_SWAP, V_EMAIL, V_EXACT, V_NOSUFFIX, V_CASE, V_SWAP, V_EMAIL, V_EXACT,
    };
    size_t v = 0;
    for (size_t i = 0; i < n_crm; i++) {
        if (!chosen[i])
            continue;
        enum variant var = i < N_COUNTRIES ? classic_variant[i] : (enum variant)(v++ % N_VARIANTS);
        rc = make_acct_side(&g, &out->companies[i], &parts[i], var);
        if (rc != HS_OK)
            goto fail;
    }
    /* accounting-only customers (index offset keeps them off the classics) */
    for (size_t i = n_crm; i < out->n_companies; i++) {
        rc = make_company(&g, i - n_crm + N_COUNTRIES, false, &out->companies[i], &parts[i]);
        if (rc != HS_OK)
            goto fail;
    }
    /* contacts: one per CRM company first, then random CRM companies */
    for (size_t i = 0; i < n_persons; i++) {
        size_t co = i < n_crm ? i : (size_t)below(&g.r, n_crm);
        rc = make_person(&g, out, co, &out->persons[i]);
        if (rc != HS_OK)
            goto fail;
    }
    for (size_t i = 0; i < n_products; i++) {
        rc = make_product(&g, i, &out->products[i]);
        if (rc != HS_OK)
            goto fail;
    }
    for (size_t i = 0; i < n_deals; i++)
        make_deal(&g, i, out);
    rc = HS_OK;
fail:
    hs_free(parts);
    hs_free(order);
    hs_free(chosen);
    hs_sbx_map_release(&g.crm_names);
    hs_sbx_map_release(&g.acct_names);
    hs_sbx_map_release(&g.emails);
    hs_sbx_map_release(&g.items);
    if (rc != HS_OK)
        hs_sbx_world_release(out);
    return rc;
}
