"""Generated datasets for the demo and tests: deterministic by seed, no downloads."""

from __future__ import annotations

import functools
from typing import Literal, overload

import numpy as np
import pandas as pd


def make_churn(n_rows: int = 3000, *, seed: int = 0) -> pd.DataFrame:
    """A customer-churn table with numbers, categories, a boolean, dates, text, missing values.

    The target ``churned`` ("yes"/"no", ~25% yes) follows a nonlinear model of the features,
    so a good model reaches a ROC AUC well below 1.

    Examples
    --------
    >>> make_churn(100).shape
    (100, 13)
    """
    rng = np.random.default_rng(seed)
    n = n_rows
    tenure = rng.integers(1, 72, n)
    plan = rng.choice(["basic", "standard", "premium"], n, p=[0.5, 0.3, 0.2])
    monthly = np.round(rng.normal(30, 8, n) + (plan == "standard") * 20 + (plan == "premium") * 45, 2)
    calls = rng.poisson(1.5, n)
    region = rng.choice([f"region_{i}" for i in range(8)], n)
    city = rng.choice([f"city_{i:02d}" for i in range(60)], n)
    payment = rng.choice(["card", "bank", "check", "wallet"], n)
    paperless = rng.random(n) < 0.6
    signup = pd.Timestamp("2024-12-31") - pd.to_timedelta(tenure * 30 + rng.integers(0, 30, n), unit="D")
    topics = np.array(["cancel my contract", "price too high", "internet slow", "thanks for help",
                       "billing question", "upgrade my plan"])
    topic = rng.integers(0, len(topics), n)
    logit = (-1.6 - 0.035 * tenure + 0.02 * (monthly - 50) + 0.35 * calls + (payment == "check") * 0.6
             + (topic == 0) * 1.6 + (topic == 1) * 0.8 + (topic == 2) * 0.5 - (topic == 3) * 0.7
             + 0.4 * (plan == "basic") * (calls > 2) + rng.normal(0, 0.6, n))
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    total = np.round(monthly * tenure, 2).astype(float)
    total[rng.random(n) < 0.05] = np.nan
    frame = pd.DataFrame({
        "customer_id": [f"C{seed:02d}{i:06d}" for i in range(n)],
        "tenure_months": tenure, "monthly_charges": monthly, "total_charges": total,
        "support_calls": calls, "plan": plan, "region": region, "city": city,
        "payment_method": payment, "paperless_billing": paperless,
        "signup_date": signup.strftime("%Y-%m-%d"),
        "last_ticket": [f"customer wrote: {topics[t]} please" for t in topic],
    })
    frame.loc[rng.random(n) < 0.04, "payment_method"] = None
    frame.insert(len(frame.columns), "churned", np.where(churned, "yes", "no"))
    return frame.drop(columns="support_calls").assign(support_calls=calls)


def make_retail(n_stores: int = 3, n_items: int = 10, days: int = 730, *, start: str = "2023-01-02",
                seed: int = 0) -> pd.DataFrame:
    """Daily unit sales of items in stores: a long table for forecasting.

    Each series (store × item) has a level, a weekly pattern (weekend peaks), a yearly cycle, a
    slow trend, promotions (``promo``, with a lower ``price``) that lift sales, holiday peaks
    (``holiday``, a few fixed dates a year), and Poisson noise; about a third of the items sell
    rarely (intermittent, mostly zero days). ``store_size`` and ``category`` are static per
    series; ``price``, ``promo`` and ``holiday`` are known in advance; ``temperature`` is
    known only once observed.

    Examples
    --------
    >>> sales = make_retail(n_stores=2, n_items=3, days=60)
    >>> sales.shape, sales.columns.tolist()[:4]
    ((360, 10), ['date', 'store', 'item', 'sales'])
    """
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=days, freq="D")
    t = np.arange(days)
    holiday = np.isin(dates.strftime("%m-%d"), ["01-01", "05-27", "07-04", "09-02", "11-28", "12-24", "12-25"])
    yearly = 1 + 0.25 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 80) / 365.25)
    weekly_shape = np.array([0.85, 0.8, 0.85, 0.95, 1.15, 1.35, 1.05])
    temperature = 12 + 10 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 110) / 365.25)
    frames = []
    for s in range(n_stores):
        size = int(rng.choice([800, 1500, 3000]))
        store_level = size / 1500
        weather = np.round(temperature + rng.normal(0, 3, days), 1)
        for i in range(n_items):
            rare = i % 3 == 2
            level = (rng.uniform(0.15, 0.5) if rare else rng.lognormal(2.5, 0.6)) * store_level
            base_price = float(np.round(rng.uniform(1, 20), 2))
            promo = rng.random(days) < 0.06
            price = np.where(promo, np.round(base_price * 0.8, 2), base_price)
            trend = 1 + rng.normal(0, 0.15) * t / max(days, 1)
            mean = (level * weekly_shape[dates.day_of_week] ** (0.5 if rare else 1) * yearly * trend
                    * np.where(promo, 1.6, 1.0) * np.where(holiday, 1.8, 1.0)
                    * (1 + 0.01 * (weather - 12) * (i % 2)))
            frames.append(pd.DataFrame({
                "date": dates, "store": f"store_{s + 1}", "item": f"item_{i + 1:02d}",
                "sales": rng.poisson(np.maximum(mean, 0)).astype(float), "price": price, "promo": promo.astype(int),
                "holiday": holiday.astype(int), "store_size": size,
                "category": ["fresh", "dry", "household"][i % 3], "temperature": weather}))
    return pd.concat(frames, ignore_index=True)


#: The item categories of :func:`make_interactions` (one per latent taste).
CATEGORIES = ("books", "music", "games", "garden", "kitchen", "sports", "toys", "fashion")


@overload
def make_interactions(n_users: int = ..., n_items: int = ..., n_interactions: int = ..., *, seed: int = ...,
                      days: int = ..., start: str = ..., tables: Literal[False] = ...) -> pd.DataFrame: ...


@overload
def make_interactions(n_users: int = ..., n_items: int = ..., n_interactions: int = ..., *, seed: int = ...,
                      days: int = ..., start: str = ..., tables: Literal[True]
                      ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]: ...


def make_interactions(n_users: int = 2000, n_items: int = 500, n_interactions: int = 50_000, *, seed: int = 0,
                      days: int = 365, start: str = "2024-01-01", tables: bool = False
                      ) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Implicit feedback (users meeting items) with structure to learn, for recommendation.

    Each user has a few latent tastes among :data:`CATEGORIES` and an activity level; each item
    belongs mostly to one taste (its ``category``) and has a popularity (skewed: a few items
    take many interactions) and a release day. An interaction picks a user by activity, one of
    their tastes, and an item of that taste by popularity; it is dated after the item's
    release, mostly soon after, so what is popular drifts in time. Repeated (user, item) pairs
    are dropped, so there are ``n_interactions`` distinct pairs (fewer if the users × items
    grid is too small). Sorted by ``timestamp``.

    Returns the interactions (``user_id``, ``item_id``, ``timestamp``); with ``tables=True``
    also the items table (``item_id``, ``category``, ``title``, ``price``) and the users table
    (``user_id``, ``segment``, ``age``), as ``(interactions, items, users)``. One million
    interactions of 50,000 users and 10,000 items take a few seconds.

    Examples
    --------
    >>> rows, items, users = make_interactions(n_users=200, n_items=50, n_interactions=3000, tables=True)
    >>> rows.shape, rows.columns.tolist(), items.columns.tolist(), users.columns.tolist()
    ((3000, 3), ['user_id', 'item_id', 'timestamp'], ['item_id', 'category', 'title', 'price'], ['user_id', 'segment', 'age'])
    """
    rng = np.random.default_rng(seed)
    k = len(CATEGORIES)
    item_taste = rng.dirichlet(np.full(k, 0.15), n_items)
    popularity = 1.0 / (rng.permutation(n_items) + 5.0) ** 0.9  # Zipf-like skew
    release = np.where(rng.random(n_items) < 0.85, 0.0, rng.uniform(0, 0.85 * days, n_items))
    user_taste = rng.dirichlet(np.full(k, 0.15), n_users)
    activity = rng.lognormal(0.0, 0.8, n_users)
    users, items, when = (np.zeros(0, dtype=np.int64),) * 3
    first = np.zeros(0, dtype=np.int64)
    for _ in range(8):  # draw again while repeated pairs leave too few distinct ones
        more = int(max(n_interactions - len(first), 0) * 1.5 + 100)
        new_users = rng.choice(n_users, more, p=activity / activity.sum())
        # Each interaction's taste: drawn from its user's mixture by inverting the cumulative sums.
        taste = (np.cumsum(user_taste[new_users], axis=1) < rng.random(more)[:, None]).sum(axis=1).clip(max=k - 1)
        new_items = np.empty(more, dtype=np.int64)
        for t in range(k):
            rows = np.flatnonzero(taste == t)
            weight = popularity * item_taste[:, t]
            new_items[rows] = rng.choice(n_items, len(rows), p=weight / weight.sum())
        users, items = np.concatenate([users, new_users]), np.concatenate([items, new_items])
        # mostly soon after the item's release
        when = np.concatenate([when, release[new_items] + (days - release[new_items]) * rng.beta(1.0, 1.2, more)])
        _, first = np.unique(users * n_items + items, return_index=True)
        if len(first) >= n_interactions:
            break
    keep = np.sort(rng.permutation(first)[:n_interactions])
    user_names = np.array([f"u{i:05d}" for i in range(n_users)])
    item_names = np.array([f"i{i:05d}" for i in range(n_items)])
    order = keep[np.argsort(when[keep], kind="stable")]
    seconds = np.round(when[order] * 86400).astype("int64")
    frame = pd.DataFrame({"user_id": user_names[users[order]], "item_id": item_names[items[order]],
                          "timestamp": pd.Timestamp(start) + pd.to_timedelta(seconds, unit="s")})
    if not tables:
        return frame
    words = np.array(["classic", "deluxe", "mini", "pro", "smart", "vintage", "eco", "family"])
    category = item_taste.argmax(axis=1)
    items_table = pd.DataFrame({
        "item_id": item_names, "category": np.array(CATEGORIES)[category],
        "title": np.char.add(np.char.add(words[rng.integers(0, len(words), n_items)], " "),
                             np.array(CATEGORIES)[category]),
        "price": np.round(rng.lognormal(3.0, 0.6, n_items), 2)})
    # Segments follow the users' main taste (pairs of tastes), with 20% noise.
    segment = np.where(rng.random(n_users) < 0.8, user_taste.argmax(axis=1) // 2, rng.integers(0, k // 2, n_users))
    users_table = pd.DataFrame({"user_id": user_names, "segment": np.char.add("segment_", segment.astype(str)),
                                "age": rng.integers(18, 80, n_users)})
    return frame, items_table, users_table


# ---- people: FEBRL-like records to match -----------------------------------------------------

# The lists are ordered from common to rare; the generator draws from them with Zipf-like
# weights, so that agreeing on a common name says less than agreeing on a rare one.
_GIVEN_NAMES = """
jack joshua thomas chloe emily lachlan james olivia william jessica ethan sophie daniel samuel charlotte
benjamin ella isabella matthew ryan hannah georgia grace mia liam riley jacob zoe lily madison dylan
isabelle alexander nicholas oliver luke amelia caitlin jayden lucy emma connor mitchell harrison ruby
sarah noah taylor jordan max hayden abbey tahlia bailey cooper kate jasmine isaac harry aidan michael
lauren brooke holly sienna tyler zac brodie kayla ebony declan ashley nathan callum georgina rebecca
joel lucas toby sebastian amber bella alyssa claudia hamish patrick maddison jaxon blake courtney
eliza laura angus logan oscar phoebe paige xavier tayla finn eve ellie jade madeline kyle adam elise
mackenzie leah stephanie jake marcus gemma talia aaron zachary summer kiara alana nikita seth nathaniel
kristen rachel bradley cameron jaime shannon mikayla erin tara campbell dominic tiana lara zara darcy
jesse indiana rhys tristan kieran keira sophia alice montana scarlett spencer ashton heath jarrah
annabelle clancy darcie ashleigh kane mason brianna imogen tegan jett phillip timothy brock kirra
stephen catherine christopher philip katherine jeremy anthony elizabeth victoria joseph andrew
frederick marianne rosemary benedict gwendolyn theodore penelope geraldine montgomery anastasia
"""
_SURNAMES = """
smith jones williams brown wilson taylor johnson white martin anderson thompson nguyen thomas walker
harris lee ryan robinson kelly king davis wright evans roberts green hall wood jackson clarke patel
khan lewis james phillips mitchell turner hill campbell young scott edwards stewart baker murphy
morris cook watson clark allen ward harrison moore reid mason hughes parker bell miller carter
richardson cooper collins wallace kennedy graham davies johnston murray bennett marshall shaw webb
fraser morgan hunt black robertson simpson price mcdonald gray russell grant wells stevens mills
ellis palmer hamilton hart reynolds burke chapman knight pearce butler russo ross fisher barnes
lloyd dunn fletcher holmes jenkins cox warren hayes griffiths fox rose hudson lawrence stone byrne
gibson francis ford howard henderson payne owen hunter hamilton watts lane saunders duncan oconnor
matthews willis andrews moss bates spencer pope walsh foster sullivan cunningham hogan nash peters
rogers donovan gordon harvey ryder elliott marsh day armstrong dixon little mclean bishop blake
craig curtis burton webster jordan porter berry barker riley kerr page hopkins sharp ferguson nolan
quinn doyle maher flynn mcmahon gallagher lynch healy brennan keane nicholls vincent hathaway mccarthy
donaldson shepherd mccallum lillie hinrichs zilm stubbs neumann painter mcgregor sinclair fitzgerald
wilkinson hendricks blackwood thornton beaumont ashworth pemberton whitfield castellano papadopoulos
kowalski schneider ferrari rossi bianchi esposito romano fernandez rodriguez gonzalez hernandez
morales schmidt fischer weber wagner becker hoffmann schulz koch richter klein wolf zimmermann
braun hartmann lange krause werner vanderberg jovanovic petrovic nikolic horvath novak dvorak
"""
_STREET_NAMES = """
kent stanley wallaby hoseason pridham jarrah mckillop gundulu yuranigh burnage mountain creek
hemmings blamey manity wilshire pinkerton kirkpatrick bunya banksia wattle acacia waratah boronia
grevillea jacaranda casuarina kookaburra lyrebird currawong rosella galah magpie wombat echidna
platypus dingo emu koala bilby quokka numbat possum bandicoot goanna brolga jabiru heron ibis pelican
cormorant egret osprey kestrel falcon harrier swift swallow martin wren finch robin thrush warbler
victoria albert george william elizabeth charles edward james frederick alexandra margaret mary anne
king queen prince princess church mill bridge station market park high hill river lake ocean beach
bay harbour cliff ridge valley forest garden orchard meadow field grove glen dale vale heath moor
spring summer autumn winter north south east west central railway parade esplanade terminus
macquarie lachlan bligh phillip hunter hindmarsh sturt flinders bass cook banks dampier tasman
"""
#: Street types and their common abbreviations.
_STREET_TYPES = (("street", "st"), ("road", "rd"), ("place", "pl"), ("crescent", "cres"), ("court", "ct"),
                 ("avenue", "ave"), ("drive", "dr"), ("circuit", "cct"), ("close", "cl"), ("parade", "pde"),
                 ("terrace", "tce"), ("way", "wy"), ("lane", "ln"), ("highway", "hwy"), ("boulevard", "blvd"))
_PLACES = """
delmar milton brentwood kersey kilvinton telemon lakefront pacific condinup rowethorpe mackinnon
erinsvale curringa aspley wingello bellbird tallowood ironbark blackbutt stringybark redgum bluegum
coolabah mulga saltbush spinifex tuart karri marri jarrah yarra murray darling murrumbidgee lachlan
namoi gwydir hawkesbury nepean shoalhaven clarence richmond tweed brisbane mary burdekin fitzroy
ord swan avon torrens derwent tamar huon gordon franklin snowy thredbo kosciuszko bogong buller hotham
"""
#: Building or locality words after a place (and their abbreviations, as FEBRL writes them).
_PLACE_KINDS = (("", ""), ("", ""), ("", ""), (" village", " vlge"), (" retirement village", " retrmnt vlge"),
                (" gardens", " gdns"), (" estate", " est"), (" lodge", " ldg"), (" park", " pk"),
                (" house", " hse"), (" orchards", " orchs"), (" terraces", " tces"), (" court", " ct"))
_SUBURBS = """
cleveland marsden granville utakarra towradgi eaton corio banyo charmhaven aspley winstonhills richlands
rosebay wattleglen glenelg norwood unley prospect burnside payneham kensington toorak brighton
hampton sandringham mentone frankston dandenong ringwood croydon lilydale boronia bayswater kew
hawthorn camberwell balwyn doncaster templestowe box hill blackburn nunawading mitcham vermont
parramatta blacktown penrith liverpool campbelltown hornsby chatswood manly mosman randwick coogee
bondi maroubra cronulla sutherland hurstville kogarah rockdale strathfield burwood ashfield
leichhardt balmain newtown marrickville petersham stanmore enmore glebe redfern waterloo zetland
mascot botany kurnell miranda caringbah gymea engadine helensburgh thirroul bulli corrimal fairy
meadow wollongong figtree unanderra dapto albion kiama gerringong berry nowra bomaderry ulladulla
batemans moruya narooma bega eden merimbula pambula tathra bermagui cobargo tilba dalmeny tuross
toowong indooroopilly kenmore chapel taringa sherwood graceville corinda oxley inala darra wacol
goodna redbank ipswich booval bundamba dinmore riverview brassall karalee chuwar mutdapilly
subiaco claremont cottesloe mosman nedlands dalkeith peppermint applecross ardross mount pleasant
fremantle spearwood coogee hamilton beaconsfield hilton samson willagee melville bicton palmyra
sandy bay battery point hobart glenorchy moonah lenah valley newtown launceston devonport burnie
"""
#: States and the first digit of their postcodes.
_STATES = (("nsw", 2), ("vic", 3), ("qld", 4), ("sa", 5), ("wa", 6), ("tas", 7), ("act", 2), ("nt", 0))
#: Spelling variants that sound alike (the first that applies to a name gives its variant).
_SOUNDS_LIKE = (("ph", "f"), ("ck", "k"), ("ie", "y"), ("ey", "y"), ("ou", "ow"), ("ll", "l"), ("tt", "t"),
                ("nn", "n"), ("mm", "m"), ("th", "t"), ("ae", "e"), ("ai", "ay"), ("ee", "ea"), ("c", "k"),
                ("z", "s"), ("s", "z"), ("y", "ie"), ("i", "y"), ("f", "ph"), ("k", "c"), ("l", "ll"), ("t", "tt"))
#: Keys next to each other on a QWERTY keyboard, for typing errors.
_NEIGHBOURS = {"q": "wa", "w": "qase", "e": "wsdr", "r": "edft", "t": "rfgy", "y": "tghu", "u": "yhji",
               "i": "ujko", "o": "iklp", "p": "ol", "a": "qwsz", "s": "awedxz", "d": "serfcx", "f": "drtgvc",
               "g": "ftyhbv", "h": "gyujnb", "j": "huikmn", "k": "jiolm", "l": "kop", "z": "asx", "x": "zsdc",
               "c": "xdfv", "v": "cfgb", "b": "vghn", "n": "bhjm", "m": "njk", "0": "9", "1": "2", "2": "13",
               "3": "24", "4": "35", "5": "46", "6": "57", "7": "68", "8": "79", "9": "80"}
_SUBURB_PARTS = ("", "", "", "", " north", " south", " east", " west", " heights", " park", " beach", " vale",
                 " hill", " creek", " point")
#: The columns of :func:`make_people` (FEBRL's), the id first.
PEOPLE_COLUMNS = ("rec_id", "given_name", "surname", "street_number", "address_1", "address_2", "suburb",
                  "postcode", "state", "date_of_birth", "soc_sec_id")
#: Each field's share of the corruptions, and how it is corrupted: typing errors (``typo``),
#: a variant of the value (``variant``: sounds alike, an abbreviation, a day/month swap,
#: another state), given name and surname swapped (``swap``) or the value left out (``missing``).
_CORRUPTIONS: dict[str, tuple[float, dict[str, float]]] = {
    "given_name": (0.14, {"typo": 0.5, "variant": 0.25, "swap": 0.12, "missing": 0.13}),
    "surname": (0.14, {"typo": 0.5, "variant": 0.25, "swap": 0.12, "missing": 0.13}),
    "street_number": (0.07, {"typo": 0.6, "missing": 0.4}),
    "address_1": (0.12, {"typo": 0.5, "variant": 0.3, "missing": 0.2}),
    "address_2": (0.08, {"typo": 0.5, "variant": 0.2, "missing": 0.3}),
    "suburb": (0.1, {"typo": 0.6, "variant": 0.2, "missing": 0.2}),
    "postcode": (0.1, {"typo": 0.7, "missing": 0.3}),
    "state": (0.05, {"variant": 0.3, "missing": 0.7}),
    "date_of_birth": (0.1, {"typo": 0.5, "variant": 0.3, "missing": 0.2}),
    "soc_sec_id": (0.1, {"typo": 0.7, "missing": 0.3}),
}
#: The share of originals with each field missing (address_2 is often absent by itself).
_MISSING = {"given_name": 0.01, "surname": 0.005, "street_number": 0.03, "address_1": 0.01, "suburb": 0.01,
            "postcode": 0.005, "state": 0.01, "date_of_birth": 0.01, "soc_sec_id": 0.005}


def make_people(n_records: int = 1000, *, duplicates: float = 0.5, max_duplicates: int = 3,
                max_modifications: int = 3, seed: int = 0) -> pd.DataFrame:
    """Person records with duplicates to find, like FEBRL's: the same columns, ids that name
    the true entity (``rec-N-org`` for an original, ``rec-N-dup-K`` for its duplicates).

    ``duplicates`` is the share of the records that are duplicates; each original that has
    any has 1 to ``max_duplicates`` of them (fewer more often, Zipf-like). A duplicate carries
    1 to ``max_modifications`` corruptions: typing errors (a character inserted, deleted,
    replaced by a key next to it, or two swapped), a value left out, given name and surname
    swapped, a day/month swap in the date of birth, a spelling that sounds alike ("stephen",
    "stefen"), an abbreviated street or place ("street", "st"), another state. Names, streets
    and suburbs come from built-in lists with Zipf-like frequencies (agreeing on "smith" says
    less than agreeing on "zimmermann"); a suburb has its postcode and state; dates are
    ``YYYYMMDD``. Rows are shuffled. Missing values are NaN.

    Vectorised throughout: one million records take under ten seconds (on characters held
    as byte matrices, not Python strings). Deterministic by ``seed``.

    Examples
    --------
    >>> people = make_people(10, seed=0)
    >>> people.shape, people.columns.tolist()[:4]
    ((10, 11), ['rec_id', 'given_name', 'surname', 'street_number'])
    >>> int(people["rec_id"].str.contains("-dup-").sum())
    5
    """
    if n_records < 1:
        raise ValueError(f"make_people's n_records must be at least 1; got {n_records}.")
    if max_duplicates < 1 or max_modifications < 1:
        raise ValueError(f"make_people's max_duplicates and max_modifications must be at least 1; got "
                         f"{max_duplicates} and {max_modifications}.")
    n_dup = int(round(n_records * duplicates))
    n_org = n_records - n_dup
    if not 0 <= duplicates < 1 or n_dup > n_org * max_duplicates:
        raise ValueError(f"make_people's duplicates must be a share in [0, 1) that leaves at most max_duplicates "
                         f"({max_duplicates}) duplicates per original; got {duplicates}.")
    rng = np.random.default_rng(seed)
    tables = _people_tables()
    fields = _originals(n_org, tables, rng)
    source, copy_number = _duplicate_sources(n_org, n_dup, max_duplicates, rng)
    fields = {name: np.concatenate([values, values[source]]) for name, values in fields.items()}
    duplicate_rows = np.arange(n_org, n_records)
    plan = _corruption_plan(n_dup, max_modifications, rng)
    _vary(fields, tables, plan, duplicate_rows)
    text = _as_characters(fields, tables)
    for level in plan:
        for name, rows in level.items():
            if name.endswith(":swap") and name.startswith("given_name"):
                a, b = text["given_name"], text["surname"]
                a[duplicate_rows[rows]], b[duplicate_rows[rows]] = b[duplicate_rows[rows]], a[duplicate_rows[rows]].copy()
            elif name.endswith(":typo"):
                column = name.split(":")[0]
                text[column][duplicate_rows[rows]] = _typo(text[column][duplicate_rows[rows]], tables.neighbours, rng)
    for level in plan:
        for name, rows in level.items():
            if name.endswith(":missing"):
                text[name.split(":")[0]][duplicate_rows[rows]] = 0
    entity = np.concatenate([np.arange(n_org), source]).astype(np.dtypes.StringDType())
    tail = np.concatenate([np.full(n_org, "-org", dtype=np.dtypes.StringDType()),
                           np.strings.add("-dup-", copy_number.astype(np.dtypes.StringDType()))])
    order = rng.permutation(n_records)
    columns = {"rec_id": pd.Series(np.strings.add(np.strings.add("rec-", entity), tail)[order], dtype="str")}
    for name in PEOPLE_COLUMNS[1:]:
        chars = text[name][order]
        values = pd.Series(chars.view(f"S{chars.shape[1]}").ravel().astype(np.dtypes.StringDType()), dtype="str")
        columns[name] = values.where(chars[:, 0] != 0)
    return pd.DataFrame(columns)


class _PeopleTables:
    """The value lists of :func:`make_people` as fixed-width byte strings, each value's variant
    after it (``values[i + len(values) // 2]`` is value ``i``'s variant), and their weights."""

    def __init__(self) -> None:
        given = _words(_GIVEN_NAMES)
        family = _words(_SURNAMES)
        # a few double-barrelled surnames among the rare ones
        family += [f"{a}-{b}" for a, b in zip(family[40:90], family[::-1][:50])]
        self.given_name = _with_variants(given, [_sounds_like(v) for v in given])
        self.surname = _with_variants(family, [_sounds_like(v) for v in family])
        streets = [(s, t) for s in _words(_STREET_NAMES) for t in _STREET_TYPES]
        self.address_1 = _with_variants([f"{s} {t[0]}" for s, t in streets], [f"{s} {t[1]}" for s, t in streets])
        places = [(p, k) for p in _words(_PLACES) for k in _PLACE_KINDS]
        self.address_2 = _with_variants([p + k[0] for p, k in places],
                                        [p + k[1] if k[1] else _sounds_like(p) for p, k in places])
        suburbs = list(dict.fromkeys(s + part for s in _words(_SUBURBS) for part in _SUBURB_PARTS))
        self.suburb = _with_variants(suburbs, [_sounds_like(v) for v in suburbs])
        self.states = np.array([s for s, _ in _STATES], dtype="S3")
        # One fixed country, the same for every seed: each suburb's postcode and state.
        country = np.random.default_rng(20240117)
        self.suburb_state = country.choice(len(_STATES), len(suburbs), p=[0.3, 0.25, 0.2, 0.08, 0.1, 0.03, 0.02, 0.02])
        first_digit = np.array([d for _, d in _STATES])[self.suburb_state]
        self.suburb_postcode = first_digit * 1000 + np.where(self.suburb_state == 6, 600, 0) + country.integers(
            0, 1000, len(suburbs)) % np.where(self.suburb_state == 6, 100, 1000)
        self.weights = {name: _zipf(len(getattr(self, name)) // 2, exponent) for name, exponent in
                        (("given_name", 1.0), ("surname", 1.0), ("address_1", 0.6), ("address_2", 0.6),
                         ("suburb", 0.8))}
        self.neighbours = np.zeros((256, 8), dtype=np.uint8)
        self.neighbour_count = np.zeros(256, dtype=np.int64)
        letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
        for code in range(256):
            near = _NEIGHBOURS.get(chr(code), "")
            keys = np.frombuffer(near.encode(), dtype=np.uint8) if near else letters[:8]
            self.neighbours[code, :len(keys)] = keys
            self.neighbour_count[code] = len(keys)
        self.neighbours = np.column_stack([self.neighbours, self.neighbour_count.astype(np.uint8)])


@functools.cache
def _people_tables() -> _PeopleTables:
    return _PeopleTables()


def _words(text: str) -> list[str]:
    return list(dict.fromkeys(text.split()))


def _sounds_like(value: str) -> str:
    """The first spelling variant of ``value`` that sounds alike, or ``value`` with its last
    letter doubled when none applies."""
    for old, new in _SOUNDS_LIKE:
        at = value.find(old, 1)  # not the first letter: names mostly keep it
        if at > 0:
            return value[:at] + new + value[at + len(old):]
    return value + value[-1]


def _with_variants(values: list[str], variants: list[str]) -> np.ndarray:
    return np.array(values + variants, dtype="S")


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + 3.0) ** exponent
    return weights / weights.sum()


def _originals(n: int, tables: _PeopleTables, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The originals' fields, as indexes into the tables (names, places) or integers."""
    fields = {name: rng.choice(len(weights), n, p=weights) for name, weights in tables.weights.items()}
    fields["address_2"] = np.where(rng.random(n) < 0.45, -1, fields["address_2"])  # none
    fields["street_number"] = np.clip(np.ceil(rng.lognormal(2.3, 1.0, n)), 1, 999).astype(np.int64)
    fields["postcode"] = tables.suburb_postcode[fields["suburb"]]
    fields["state"] = tables.suburb_state[fields["suburb"]]
    days = rng.integers(0, 90 * 365, n).astype("timedelta64[D]") + np.datetime64("1915-01-01")
    year = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    fields["date_of_birth"] = year * 10000 + month * 100 + day
    fields["soc_sec_id"] = rng.integers(1_000_000, 10_000_000, n)
    for name, share in _MISSING.items():
        fields[name] = np.where(rng.random(n) < share, -1, fields[name])
    return fields


def _duplicate_sources(n_org: int, n_dup: int, max_duplicates: int, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Each duplicate's original and its number among that original's duplicates (0, 1, ...):
    originals have 1 to ``max_duplicates`` duplicates, fewer more often."""
    if n_dup == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    sizes = rng.choice(np.arange(1, max_duplicates + 1), n_org, p=_zipf(max_duplicates, 2.0))
    sizes = sizes[rng.permutation(n_org)]
    kept = np.cumsum(sizes)
    sizes = np.where(kept <= n_dup, sizes, 0)
    while (missing := n_dup - int(sizes.sum())) > 0:  # a few more where there is room
        room = np.flatnonzero(sizes < max_duplicates)
        sizes[rng.choice(room, min(missing, len(room)), replace=False)] += 1
    source = np.repeat(np.arange(n_org), sizes)
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    return source, np.arange(n_dup) - starts


def _corruption_plan(n_dup: int, max_modifications: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Which duplicates get which corruption of which field, one mapping per round (a duplicate
    has 1 to ``max_modifications`` rounds, fewer more often): ``"field:kind"`` → rows."""
    count = rng.choice(np.arange(1, max_modifications + 1), n_dup, p=_zipf(max_modifications, 1.5))
    names = list(_CORRUPTIONS)
    share = np.array([_CORRUPTIONS[name][0] for name in names])
    plan = []
    for level in range(max_modifications):
        rows = np.flatnonzero(count > level)
        field = rng.choice(len(names), len(rows), p=share / share.sum())
        u = rng.random(len(rows))
        round_plan: dict[str, np.ndarray] = {}
        for i, name in enumerate(names):
            kinds = _CORRUPTIONS[name][1]
            bounds = np.cumsum(list(kinds.values()))
            kind = np.searchsorted(bounds / bounds[-1], u, side="right").clip(max=len(kinds) - 1)
            for k, kind_name in enumerate(kinds):
                chosen = rows[(field == i) & (kind == k)]
                # one swap of the two names, whichever of them was drawn
                key = f"{'given_name' if kind_name == 'swap' else name}:{kind_name}"
                round_plan[key] = np.concatenate([round_plan[key], chosen]) if key in round_plan else chosen
        plan.append(round_plan)
    return plan


def _vary(fields: dict[str, np.ndarray], tables: _PeopleTables, plan: list[dict[str, np.ndarray]],
          duplicate_rows: np.ndarray) -> None:
    """The variants the plan asks for, in place: a sounds-alike or abbreviated value, a
    day/month swap (a typo instead when the day is above 12), another state."""
    for level in plan:
        for key in [k for k in level if k.endswith(":variant")]:
            name = key.split(":")[0]
            rows = duplicate_rows[level[key]]
            values = fields[name][rows]
            if name == "date_of_birth":
                day, month = values % 100, values // 100 % 100
                swappable = (values >= 0) & (day <= 12) & (day != month)
                fields[name][rows] = np.where(swappable, values - day - month * 100 + day * 100 + month, values)
                typo_key = f"{name}:typo"
                level[typo_key] = np.concatenate([level.get(typo_key, np.zeros(0, np.int64)), level[key][~swappable]])
            elif name == "state":
                fields[name][rows] = np.where(values >= 0, (values + 1 + values % 3) % len(tables.states), values)
            else:
                half = len(getattr(tables, name)) // 2
                fields[name][rows] = np.where((values >= 0) & (values < half), values + half, values)


def _as_characters(fields: dict[str, np.ndarray], tables: _PeopleTables) -> dict[str, np.ndarray]:
    """Each field as a matrix of characters (one row a record, zero bytes after the value;
    all zeros for a missing value), with room for a few inserted characters."""
    out = {}
    for name in PEOPLE_COLUMNS[1:]:
        values = fields[name]
        if name in ("given_name", "surname", "address_1", "address_2", "suburb", "state"):
            table = tables.states if name == "state" else getattr(tables, name)
            if name in ("given_name", "surname"):  # one width for both, so that they can swap
                width = max(tables.given_name.itemsize, tables.surname.itemsize)
            else:
                width = table.itemsize
            chars = np.zeros((len(values), width + 4), dtype=np.uint8)
            chars[:, :width] = table.astype(f"S{width}")[np.maximum(values, 0)].view(np.uint8).reshape(-1, width)
        else:
            chars = _digits(np.maximum(values, 0), {"postcode": 4, "date_of_birth": 8, "soc_sec_id": 7}.get(name),
                            room=4)
        chars[values < 0] = 0
        out[name] = chars
    return out


def _digits(numbers: np.ndarray, width: int | None, *, room: int) -> np.ndarray:
    """Numbers as characters: ``width`` digits with leading zeros, or as many as each needs."""
    most: int = width or int(np.floor(np.log10(max(int(numbers.max(initial=1)), 1)))) + 1
    length = np.full(len(numbers), most) if width else np.floor(np.log10(np.maximum(numbers, 1))).astype(np.int64) + 1
    column = np.arange(most + room)[None, :]
    power = np.where(column < length[:, None], length[:, None] - 1 - column, 0)
    digits = (numbers[:, None] // 10 ** power) % 10 + ord("0")
    return np.where(column < length[:, None], digits, 0).astype(np.uint8)


def _typo(chars: np.ndarray, neighbours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One typing error in each row of ``chars`` (values as characters): a character inserted,
    deleted, replaced by a neighbouring key, or two neighbours swapped. Empty values stay."""
    n, width = chars.shape
    length = (chars != 0).sum(axis=1)
    kind = np.asarray(rng.choice(4, n, p=[0.25, 0.25, 0.3, 0.2]))  # insert, delete, substitute, transpose
    kind = np.where((kind == 0) & (length >= width), 2, kind)  # no room: substitute
    kind = np.where((kind == 3) & (length < 2), 2, kind)
    kind = np.where((kind == 1) & (length < 2), 2, kind)  # keep at least one character
    span = np.where(kind == 0, length + 1, np.where(kind == 3, length - 1, length))
    at = np.minimum((rng.random(n) * span).astype(np.int64), np.maximum(span - 1, 0))
    column = np.arange(width)[None, :]
    p = at[:, None]
    source = np.where((kind == 1)[:, None] & (column >= p), column + 1,
                      np.where((kind == 0)[:, None] & (column > p), column - 1,
                               np.where((kind == 3)[:, None] & (column == p), column + 1,
                                        np.where((kind == 3)[:, None] & (column == p + 1), column - 1, column))))
    padded = np.concatenate([chars, np.zeros((n, 1), dtype=np.uint8)], axis=1)
    out = np.take_along_axis(padded, source, axis=1)
    rows = np.flatnonzero(((kind == 0) | (kind == 2)) & (length > 0))
    # The new character: a key next to the one it replaces, or to the one before an insertion.
    near = chars[rows, np.maximum(np.where(kind[rows] == 0, at[rows] - 1, at[rows]), 0)]
    pick = (rng.random(len(rows)) * neighbours[near, -1]).astype(np.int64)
    out[rows, at[rows]] = neighbours[near, pick]
    out[length == 0] = 0
    return out


#: The countries of :func:`make_transactions`: cards' home countries, then rare ones.
HOME_COUNTRIES = ("FR", "DE", "ES", "IT", "GB", "NL")
RARE_COUNTRIES = ("NG", "RU", "BR", "VN", "ID", "PH")


def make_transactions(n_rows: int = 20_000, *, fraud_rate: float = 0.01, n_cards: int | None = None,
                      days: int = 30, start: str = "2024-03-01", seed: int = 0) -> pd.DataFrame:
    """Card transactions with planted fraud, for anomaly detection: ``transaction_id``, ``ts``
    (sorted), ``card_id``, ``amount``, ``merchant``, ``category``, ``country``, ``channel``
    (``online``/``in_store``) and the label ``is_fraud`` (0/1, about ``fraud_rate``).

    Each card has a home country, a typical amount and favourite merchants; ordinary spending
    happens by day. Fraud comes in three kinds, a third each: large amounts abroad in a rare
    country at night; card testing (a burst of tiny online payments at a merchant the card
    never used); and amounts many times the card's own typical one at its usual merchants, at
    home (unusual only against the card's own past: the entity features' case). About 1% of
    merchants are missing.

    Examples
    --------
    >>> data = make_transactions(1000, seed=1)
    >>> data.shape, int(data["is_fraud"].sum())
    ((1000, 9), 10)
    """
    rng = np.random.default_rng(seed)
    n_cards = n_cards or max(20, n_rows // 40)
    merchants = np.array([f"M{i:03d}" for i in range(120)])
    categories = np.array(["grocery", "fuel", "restaurant", "travel", "electronics", "fashion", "online_services",
                           "pharmacy"])
    merchant_category = categories[rng.integers(0, len(categories), len(merchants))]
    popularity = _zipf(len(merchants), 1.1)
    home = rng.choice(HOME_COUNTRIES, n_cards, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05])
    typical = np.exp(rng.normal(3.3, 0.6, n_cards))  # ~27 on average, by card
    favourites = np.array([rng.choice(len(merchants), 8, replace=False, p=popularity) for _ in range(n_cards)])
    n_fraud = int(round(n_rows * fraud_rate))
    n = n_rows - n_fraud
    card = rng.integers(0, n_cards, n)
    own = rng.random(n) < 0.8
    merchant = np.where(own, favourites[card, rng.integers(0, 8, n)], rng.choice(len(merchants), n, p=popularity))
    amount = typical[card] * np.exp(rng.normal(0, 0.5, n))
    hour = np.clip(rng.normal(14, 3.5, n), 6, 23.9)
    abroad = rng.random(n) < 0.05
    country = np.where(abroad, rng.choice(HOME_COUNTRIES, n), home[card])
    online = rng.random(n) < 0.3
    seconds = rng.integers(0, days, n) * 86_400 + (hour * 3600).astype(np.int64)
    kind = np.arange(n_fraud) % 3
    f_card = rng.integers(0, n_cards, n_fraud)
    f_hour = np.where(kind == 0, rng.uniform(0, 5, n_fraud), np.clip(rng.normal(14, 4, n_fraud), 0, 23.9))
    f_amount = np.select([kind == 0, kind == 1], [np.exp(rng.normal(6.5, 0.5, n_fraud)),
                                                  rng.uniform(0.5, 2.0, n_fraud)],
                         typical[f_card] * rng.uniform(6, 12, n_fraud))
    f_merchant = np.where(kind == 2, favourites[f_card, rng.integers(0, 8, n_fraud)],
                          rng.integers(0, len(merchants), n_fraud))
    f_online = kind == 1
    f_seconds = rng.integers(0, days, n_fraud) * 86_400 + (f_hour * 3600).astype(np.int64)
    tests = np.flatnonzero(kind == 1)  # card testing: the payments of one card within minutes
    for first, rest in zip(tests[::3], [tests[i + 1:i + 3] for i in range(0, len(tests), 3)]):
        f_card[rest], f_merchant[rest] = f_card[first], f_merchant[first]
        f_seconds[rest] = f_seconds[first] + rng.integers(20, 300, len(rest))
    f_country = np.where(kind == 0, rng.choice(RARE_COUNTRIES, n_fraud), home[f_card])
    all_merchants = np.concatenate([merchant, f_merchant])
    frame = pd.DataFrame({
        "ts": pd.Timestamp(start) + pd.to_timedelta(np.concatenate([seconds, f_seconds]), unit="s"),
        "card_id": [f"C{c:05d}" for c in np.concatenate([card, f_card])],
        "amount": np.round(np.concatenate([amount, f_amount]), 2),
        "merchant": merchants[all_merchants].astype(object),
        "category": merchant_category[all_merchants],
        "country": np.concatenate([country, f_country]),
        "channel": np.where(np.concatenate([online, f_online]), "online", "in_store"),
        "is_fraud": np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n_fraud, dtype=np.int64)]),
    })
    frame.loc[rng.random(len(frame)) < 0.01, "merchant"] = None
    frame = frame.sort_values("ts", kind="stable").reset_index(drop=True)
    frame.insert(0, "transaction_id", [f"T{seed:02d}{i:07d}" for i in range(len(frame))])
    return frame
