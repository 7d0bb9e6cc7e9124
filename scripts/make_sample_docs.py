#!/usr/bin/env python3
"""(Re)generate the demo corpus in ``sample_docs/``.

Run from the repository root::

    .venv/bin/python scripts/make_sample_docs.py

Produces three multi-page PDFs (built with PyMuPDF) and three .docx files
(built with python-docx), plus ``scripts/sample_docs.md`` (kept outside sample_docs/ so it is not indexed).  All content is
fictional and was written for this demo.  Output is deterministic: document
metadata uses fixed dates, PDFs are saved in reproducible mode and the .docx
zip containers are rewritten with fixed member timestamps, so running the
script twice yields byte-identical files.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

import pymupdf
import docx
from docx.shared import Pt

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "sample_docs"

# ---------------------------------------------------------------------------
# PDF helpers
# ---------------------------------------------------------------------------

A4 = pymupdf.paper_rect("a4")  # 595 x 842 pt
BODY = pymupdf.Rect(56, 72, A4.width - 56, A4.height - 64)

CSS = """
* { font-family: sans-serif; font-size: 10pt; line-height: 1.35; }
h1 { font-size: 16pt; margin: 0 0 6pt 0; color: #1f3a5f; }
h2 { font-size: 12.5pt; margin: 10pt 0 4pt 0; color: #1f3a5f; }
h3 { font-size: 10.5pt; margin: 8pt 0 3pt 0; }
p { margin: 0 0 6pt 0; text-align: justify; }
li { margin: 0 0 3pt 0; }
table { border-collapse: collapse; margin: 4pt 0 8pt 0; }
th { background-color: #dde6f0; font-weight: bold; text-align: left; }
th, td { border: 0.5pt solid #555555; padding: 2pt 5pt; font-size: 9.5pt; }
td.num { text-align: right; }
.title { font-size: 20pt; font-weight: bold; color: #1f3a5f; margin-bottom: 2pt; }
.subtitle { font-size: 11pt; color: #555555; margin-bottom: 12pt; }
.small { font-size: 8.5pt; color: #555555; }
.box { border: 0.5pt solid #888888; padding: 5pt; background-color: #f4f4f4; }
.box p { text-align: left; }
"""

FIXED_PDF_DATE = "D:20240304090000+00'00'"


_SUBSET_TAG = re.compile(r"/(BaseFont|FontName)\s*/([A-Z]{6})\+([^\s/<>\[\]()]+)")


def _fix_subset_tags(doc: pymupdf.Document, salt: str) -> None:
    """Replace MuPDF's random 6-letter font-subset tags by deterministic ones.

    The tag is derived from the file name and the font name, so the font
    dictionary and its descriptor get the same tag and reruns are identical.
    """

    def tag(font: str) -> str:
        digest = hashlib.sha256(f"{salt}/{font}".encode()).digest()
        return "".join(chr(ord("A") + b % 26) for b in digest[:6])

    for xref in range(1, doc.xref_length()):
        if doc.xref_is_stream(xref):
            continue
        obj = doc.xref_object(xref, compressed=True)
        new = _SUBSET_TAG.sub(lambda m: f"/{m[1]}/{tag(m[3])}+{m[3]}", obj)
        if new != obj:
            doc.update_object(xref, new)


_LIGATURES = {0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "st", 0xFB06: "st"}
_HEX = re.compile(r"<([0-9a-fA-F]+)>")


def _expand_ligatures(doc: pymupdf.Document) -> None:
    """Make ligature glyphs extract as plain letters ("office", not "o\ufb03ce").

    MuPDF's HTML layout always shapes fi/fl/ff/ffi/ffl ligatures and the
    font's ToUnicode CMap maps them to U+FB00..U+FB06.  Like PDFs written by
    word processors, we map those glyphs to the letter sequences instead, by
    appending overriding ``bfchar`` entries to each ToUnicode CMap.
    """
    done: set[int] = set()
    for xref in range(1, doc.xref_length()):
        kind, val = doc.xref_get_key(xref, "ToUnicode")
        if kind != "xref":
            continue
        cmap_xref = int(val.split()[0])
        if cmap_xref in done:
            continue
        done.add(cmap_xref)
        cmap = doc.xref_stream(cmap_xref).decode("latin-1")
        codes: dict[int, str] = {}
        for body in re.findall(r"beginbfrange(.*?)endbfrange", cmap, re.S):
            for line in body.splitlines():
                h = _HEX.findall(line)
                if len(h) == 3 and "[" not in line and len(h[2]) == 4:
                    lo, hi, dst = (int(v, 16) for v in h)
                    for code in range(lo, hi + 1):
                        if dst + code - lo in _LIGATURES:
                            codes[code] = _LIGATURES[dst + code - lo]
        for body in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
            for line in body.splitlines():
                h = _HEX.findall(line)
                if len(h) == 2 and len(h[1]) == 4 and int(h[1], 16) in _LIGATURES:
                    codes[int(h[0], 16)] = _LIGATURES[int(h[1], 16)]
        if not codes:
            continue
        block = f"{len(codes)} beginbfchar\n"
        block += "".join(f"<{c:04x}> <{v.encode('utf-16-be').hex()}>\n" for c, v in sorted(codes.items()))
        block += "endbfchar\n"
        doc.update_stream(cmap_xref, cmap.replace("endcmap", block + "endcmap", 1).encode("latin-1"))


def build_pdf(
    path: Path,
    *,
    title: str,
    author: str,
    subject: str,
    keywords: str,
    header_left: str,
    footer_left: str,
    pages: list[tuple[str, str]],
    toc: list[list] | None = None,
    labels: list[dict] | None = None,
    footer_total: bool = False,
) -> None:
    """Build a PDF: one (section-title-for-header, html-body) pair per page."""
    doc = pymupdf.open()
    for n, (section, html) in enumerate(pages, start=1):
        page = doc.new_page(width=A4.width, height=A4.height)
        spare, scale = page.insert_htmlbox(BODY, html, css=CSS, scale_low=1)
        if spare < 0 or scale != 1:
            raise SystemExit(f"{path.name}: body text of page {n} does not fit")
    if labels:
        doc.set_page_labels(labels)
    total = doc.page_count
    grey = (0.35, 0.35, 0.35)
    for n, page in enumerate(doc, start=1):
        section = pages[n - 1][0]
        label = page.get_label() or str(n)
        # header
        page.insert_text((BODY.x0, 44), header_left, fontname="helv", fontsize=8.5, color=grey)
        w = pymupdf.get_text_length(section, fontname="helv", fontsize=8.5)
        page.insert_text((BODY.x1 - w, 44), section, fontname="helv", fontsize=8.5, color=grey)
        page.draw_line((BODY.x0, 50), (BODY.x1, 50), color=grey, width=0.5)
        # footer
        page.draw_line((BODY.x0, A4.height - 48), (BODY.x1, A4.height - 48), color=grey, width=0.5)
        page.insert_text((BODY.x0, A4.height - 36), footer_left, fontname="helv", fontsize=8, color=grey)
        right = f"Page {label} of {total}" if footer_total else f"Page {label}"
        w = pymupdf.get_text_length(right, fontname="helv", fontsize=8)
        page.insert_text((BODY.x1 - w, A4.height - 36), right, fontname="helv", fontsize=8, color=grey)
    if toc:
        doc.set_toc(toc)
    doc.set_metadata(
        {
            "title": title,
            "author": author,
            "subject": subject,
            "keywords": keywords,
            "creator": "kbcli scripts/make_sample_docs.py",
            "producer": "PyMuPDF",
            "creationDate": FIXED_PDF_DATE,
            "modDate": FIXED_PDF_DATE,
        }
    )
    doc.subset_fonts()
    _fix_subset_tags(doc, path.name)
    _expand_ligatures(doc)
    # fixed file identifier (otherwise MuPDF generates a random /ID per save)
    file_id = hashlib.md5(f"kbcli-sample/{path.name}".encode()).hexdigest().upper()
    doc.xref_set_key(-1, "ID", f"[<{file_id}><{file_id}>]")
    doc.save(path, garbage=4, deflate=True, clean=True, no_new_id=True)
    doc.close()


# ---------------------------------------------------------------------------
# PDF 1: Northwind Tea Co. annual report (roman-numbered preface, outline,
#        Chinese summary on the last page)
# ---------------------------------------------------------------------------

NORTHWIND_PAGES = [
    (
        "Letter from the Chair",
        """
<p class="title">Northwind Tea Co.</p>
<p class="subtitle">Annual Report 2023 (excerpt) &middot; Fiscal year ended 31 December 2023</p>
<h1>Letter from the Chair</h1>
<p>Dear shareholders,</p>
<p>2023 was the year Northwind Tea Co. stopped being a regional specialty importer and became a
national brand. Our teas were stocked in 4,180 retail doors across 31 states, up from 2,950 a year
earlier, and our direct-to-consumer subscription service passed 61,000 active subscribers in
November. We achieved this while absorbing the sharpest rise in ocean freight costs since 2021 and
a disappointing first-flush harvest in Darjeeling.</p>
<p>The Board is proud of how the team responded. Under Chief Executive Officer Daniel Okafor, the
company renegotiated three of its four largest freight contracts, moved a greater share of blending
in-house, and brought forward the investment in our new Tacoma facility by six months. These
decisions cost money in the short term, as the capital expenditure section of this report shows,
but they give us a degree of control over quality and cost that we did not have before.</p>
<p>The Board has recommended a final dividend of $0.18 per share, payable on 14 June 2024 to
shareholders on the register at 17 May 2024. Together with the interim dividend of $0.12, this
brings the total dividend for the year to $0.30 per share (2022: $0.24).</p>
<p>After eleven years on the Board, six of them as Chair, I will not stand for re-election at the
Annual General Meeting on 23 May 2024. The Board has nominated Dr. Amara Nwosu, currently our senior
independent director, to succeed me. It has been a privilege to serve you.</p>
<p>Margaret Holloway<br/>Chair of the Board<br/>Portland, Oregon, 4 March 2024</p>
""",
    ),
    (
        "1. Financial Highlights",
        """
<h1>1. Financial Highlights</h1>
<p>Net revenue for the fiscal year ended 31 December 2023 was <b>$47.9 million</b>, an increase of
12.4% over the $42.6 million reported for 2022. Growth came mainly from the direct-to-consumer
channel, where revenue rose 28% to $14.8 million on the back of the subscription service. Wholesale
revenue grew 6.8% to $33.1 million as new grocery listings more than offset lower volumes from
independent caf&eacute;s.</p>
<h2>Five-year summary</h2>
<table>
<tr><th>Fiscal year</th><th>Net revenue ($m)</th><th>Gross margin</th><th>Operating income ($m)</th><th>Net income ($m)</th></tr>
<tr><td>2019</td><td class="num">29.4</td><td class="num">38.9%</td><td class="num">2.1</td><td class="num">1.4</td></tr>
<tr><td>2020</td><td class="num">33.0</td><td class="num">39.5%</td><td class="num">2.6</td><td class="num">1.8</td></tr>
<tr><td>2021</td><td class="num">38.2</td><td class="num">40.2%</td><td class="num">3.5</td><td class="num">2.5</td></tr>
<tr><td>2022</td><td class="num">42.6</td><td class="num">40.6%</td><td class="num">4.2</td><td class="num">3.2</td></tr>
<tr><td>2023</td><td class="num">47.9</td><td class="num">41.3%</td><td class="num">5.4</td><td class="num">4.1</td></tr>
</table>
<h2>Revenue by channel</h2>
<table>
<tr><th>Channel</th><th>2023 ($m)</th><th>2022 ($m)</th><th>Change</th></tr>
<tr><td>Wholesale (grocery, food service, caf&eacute;s)</td><td class="num">33.1</td><td class="num">31.0</td><td class="num">+6.8%</td></tr>
<tr><td>Direct-to-consumer (web shop and subscriptions)</td><td class="num">14.8</td><td class="num">11.6</td><td class="num">+27.6%</td></tr>
<tr><td>Total net revenue</td><td class="num">47.9</td><td class="num">42.6</td><td class="num">+12.4%</td></tr>
</table>
<p>Gross margin improved by 70 basis points to 41.3%, helped by in-house blending and a more
favourable channel mix, partly offset by higher freight costs. Net income rose 28% to $4.1 million,
or $0.58 per diluted share (2022: $0.46). Cash and cash equivalents at year end were $9.7 million,
and the company had no borrowings drawn under its $15 million revolving credit facility.</p>
""",
    ),
    (
        "2. Operations and Capital Expenditure",
        """
<h1>2. Operations and Capital Expenditure</h1>
<h2>Capital expenditure</h2>
<p>Capital expenditure in 2023 totalled <b>$6.8 million</b>, compared with $2.9 million in 2022.
The largest item was $4.2 million for the new blending and packaging facility in Tacoma,
Washington. The 68,000 square-foot site will have capacity to blend and pack 2,400 tonnes of tea a
year, roughly twice our current throughput, and production is expected to start in the second
quarter of 2024. We also spent $1.5 million replacing our enterprise resource planning (ERP)
system, which went live on 1 October 2023, and $1.1 million on temperature- and humidity-controlled
racking at the Portland distribution centre.</p>
<table>
<tr><th>Project</th><th>2023 spend ($m)</th><th>Status at 31 Dec 2023</th></tr>
<tr><td>Tacoma blending and packaging facility</td><td class="num">4.2</td><td>Building complete, fit-out in progress</td></tr>
<tr><td>ERP system replacement</td><td class="num">1.5</td><td>Live since 1 October 2023</td></tr>
<tr><td>Portland climate-controlled racking</td><td class="num">1.1</td><td>Complete</td></tr>
<tr><td>Total</td><td class="num">6.8</td><td></td></tr>
</table>
<p>For 2024 the Board has approved a capital budget of $5.0 to $5.5 million, of which $3.6 million
is for completing the Tacoma fit-out and the remainder mainly for a second nitrogen-flush packaging
line that extends the shelf life of our green and white teas.</p>
<h2>Sourcing</h2>
<p>Northwind bought 1,870 tonnes of tea in 2023 from 42 estates and smallholder cooperatives in six
countries. Kenya accounted for 38% of volume, India (Assam and Darjeeling) for 29%, China (Yunnan
and Fujian) for 14%, Sri Lanka for 11%, Japan for 5% and Taiwan for 3%. Ninety-one percent of
volume was Rainforest Alliance or Fairtrade certified, up from 84% in 2022.</p>
<h2>People</h2>
<p>We ended the year with 312 employees (2022: 268), including 41 hired for the Tacoma facility
ahead of its opening. Voluntary staff turnover fell to 11% from 15%.</p>
""",
    ),
    (
        "3. Risk Factors",
        """
<h1>3. Risk Factors</h1>
<p>The following are the principal risks that could materially affect our results. They are not
the only risks we face.</p>
<p><b>Climate and crop risk.</b> Tea yields depend on rainfall and temperature. Drought in the Kenyan
highlands and increasingly erratic monsoons in Assam could reduce supply and raise prices. In 2023
the Darjeeling first flush was around 20% below the five-year average, and we had to substitute
other origins in two of our blends.</p>
<p><b>Supplier concentration.</b> Our three largest estates supplied 46% of our 2023 volume. The loss of
any one of them, whether through crop failure, a change of ownership or a decision to sell elsewhere,
could disrupt production of our best-selling blends for several months.</p>
<p><b>Currency risk.</b> We pay most suppliers in Kenyan shillings, Indian rupees and Sri Lankan rupees,
while almost all of our revenue is in US dollars. We estimate that a 10% strengthening of these
currencies against the dollar would reduce gross margin by about 1.6 percentage points before hedging.
Our policy is to hedge 50% to 70% of forecast purchases for the next twelve months.</p>
<p><b>Freight and logistics.</b> Ocean freight made up 7.2% of cost of goods sold in 2023. Disruption on
major shipping routes, such as the Red Sea diversions in early 2024, can lengthen transit times by two
to three weeks and increase costs.</p>
<p><b>Food safety and regulation.</b> Tea must meet maximum residue limits for pesticides in the United
States and, for our export customers, the European Union. We tested 2,300 lots in 2023. A contaminated
lot could lead to a product recall and damage to the brand.</p>
<p><b>Customer concentration.</b> Our largest retail customer, a national grocery chain, accounted for
17% of net revenue in 2023.</p>
<p><b>Cybersecurity and systems.</b> The new ERP system and our web shop, which processes card payments
for subscribers, are exposed to cyber-attack and outages.</p>
""",
    ),
    (
        "4. Outlook and 5. Chinese Summary",
        """
<h1>4. Outlook for 2024</h1>
<p>We expect net revenue growth of 8% to 10% in 2024, with direct-to-consumer revenue again growing
faster than wholesale. Once the Tacoma facility reaches full output in the second half of the year,
we expect gross margin to settle between 41% and 42%, as savings on third-party packing offset
start-up costs and higher depreciation. Our outlook assumes no further deterioration in Red Sea
shipping and broadly stable exchange rates for our main origin currencies.</p>
<p>Our priorities for the year are to open Tacoma on schedule, to reach 75,000 subscribers by
December 2024, and to launch a range of ready-to-drink cold-brew teas in the Pacific Northwest.
We will report on progress at the Annual General Meeting on 23 May 2024 and in our half-year results
on 8 August 2024.</p>
<p>Daniel Okafor, Chief Executive Officer &middot; Priya Raman, Chief Financial Officer</p>
<h1>5. 中文摘要 (Summary in Chinese)</h1>
<div class="box" lang="zh-Hans">
<p>诺思温茶业公司（Northwind Tea Co.）2023财年净收入为4,790万美元，较2022年的4,260万美元增长12.4%。直销渠道（网店及订阅服务）收入增长28%，达到1,480万美元；批发收入增长6.8%，达到3,310万美元。净利润为410万美元，每股摊薄收益0.58美元。</p>
<p>全年资本支出为680万美元，其中420万美元用于华盛顿州塔科马市新建的拼配与包装工厂，该工厂预计于2024年第二季度投产。董事会建议派发每股0.18美元的末期股息。</p>
<p>主要风险包括：肯尼亚和印度产茶区的气候变化、供应商集中度（前三大茶园占采购量的46%）、汇率波动以及海运成本上升。公司预计2024年收入增长8%至10%。</p>
</div>
""",
    ),
]

NORTHWIND_TOC = [
    [1, "Letter from the Chair", 1],
    [1, "1. Financial Highlights", 2],
    [2, "Five-year summary", 2],
    [2, "Revenue by channel", 2],
    [1, "2. Operations and Capital Expenditure", 3],
    [2, "Capital expenditure", 3],
    [2, "Sourcing", 3],
    [2, "People", 3],
    [1, "3. Risk Factors", 4],
    [1, "4. Outlook for 2024", 5],
    [1, "5. 中文摘要 (Summary in Chinese)", 5],
]

# physical page 1 -> "i", physical pages 2.. -> "1", "2", ...
NORTHWIND_LABELS = [
    {"startpage": 0, "prefix": "", "style": "r", "firstpagenum": 1},
    {"startpage": 1, "prefix": "", "style": "D", "firstpagenum": 1},
]


# ---------------------------------------------------------------------------
# PDF 2: Caldera Aurora AE-200 espresso machine manual (outline, "Page n of N")
# ---------------------------------------------------------------------------

ESPRESSO_PAGES = [
    (
        "Safety and Specifications",
        """
<p class="title">Caldera Aurora AE-200</p>
<p class="subtitle">Dual-thermoblock espresso machine with integrated grinder &middot; User Manual</p>
<h1>1. Important Safety Instructions</h1>
<p>Read these instructions completely before using the machine and keep them for future reference.</p>
<ul>
<li>Connect the machine only to an earthed socket with the voltage shown on the rating plate.</li>
<li>Never immerse the machine, the power cord or the plug in water or any other liquid.</li>
<li>Always switch off and unplug the machine before cleaning it or removing the drip tray.</li>
<li>The steam wand, hot water outlet and group head become very hot. Do not touch them during or
immediately after use, and never point the steam wand at people.</li>
<li>Do not operate the machine without water in the tank; this can damage the pump.</li>
<li>Use fresh, cold, still drinking water. Do not use sparkling water, milk or distilled water
in the tank: distilled water prevents the water-level sensor from working.</li>
<li>Children must not use or clean the machine and must be kept away from it while it is hot.</li>
</ul>
<h1>2. Technical Specifications</h1>
<table>
<tr><th>Item</th><th>Specification</th></tr>
<tr><td>Model</td><td>AE-200 (colours: steel, matte black, sage)</td></tr>
<tr><td>Rated voltage</td><td>220&ndash;240 V ~ 50/60 Hz</td></tr>
<tr><td>Rated power</td><td>1,450 W</td></tr>
<tr><td>Pump pressure</td><td>15 bar maximum; extraction limited to 9 bar by the over-pressure valve</td></tr>
<tr><td>Heating system</td><td>Dual thermoblock (coffee and steam), heat-up time approx. 35 seconds</td></tr>
<tr><td>Water tank</td><td>1.8 litres, removable, with replaceable filter</td></tr>
<tr><td>Bean hopper</td><td>250 g; conical steel burrs with 16 grind settings</td></tr>
<tr><td>Dimensions / weight</td><td>31 &times; 28 &times; 40 cm (W &times; D &times; H) / 8.6 kg</td></tr>
</table>
""",
    ),
    (
        "Setting Up",
        """
<h1>3. Setting Up and First Use</h1>
<ol>
<li>Unpack the machine and place it on a flat, stable, heat-resistant surface at least 10 cm from
the wall, so that air can circulate and steam can escape.</li>
<li>Remove the water tank, rinse it with clean water, and fit the water filter after soaking it
for five minutes.</li>
<li>Fill the tank with fresh cold water up to the MAX mark and push it firmly into place until it
clicks. If the tank is not seated correctly the display shows E01.</li>
<li>Plug in the machine and press POWER. The lights flash while the thermoblocks heat up.</li>
<li>Prime the system: place a container under the group head and the steam wand, then hold the
1-CUP button for 3 seconds. The pump runs until water flows from both outlets.</li>
<li>Before making your first coffee, run one full tank of water through the group head and steam
wand to rinse the internal circuit.</li>
</ol>
<h2>Setting the water hardness</h2>
<p>Dip the supplied test strip in tap water for one second and count the red squares after one
minute. With the machine in standby, hold STEAM and 2-CUP together for 3 seconds, then press 1-CUP
repeatedly to select hardness level 1 (soft) to 4 (very hard) and confirm with POWER. The hardness
level determines how often the machine asks to be descaled (see section 6).</p>
<h2>Choosing a grind setting</h2>
<p>The integrated grinder has 16 settings, where 1 is finest. Start at setting 8 with freshly roasted
beans and adjust in single steps, tasting after each change. Change the grind setting only while the
grinder is running, to avoid jamming the burrs.</p>
""",
    ),
    (
        "Making Espresso and Frothing Milk",
        """
<h1>4. Making Espresso</h1>
<p>For a double espresso, grind 18 g of coffee into the double basket (9 g for the single basket),
level the bed and tamp firmly with about 15 kg of pressure. Lock the portafilter into the group head
and press 2-CUP. A well-adjusted shot yields about 36 g of espresso in 25 to 30 seconds, with an even,
hazelnut-coloured crema.</p>
<table>
<tr><th>What you taste or see</th><th>Likely cause</th><th>What to change</th></tr>
<tr><td>Sour, thin, runs faster than 20 s</td><td>Grind too coarse or dose too low</td><td>Grind one step finer or add 0.5 g</td></tr>
<tr><td>Bitter, harsh, slower than 35 s</td><td>Grind too fine or dose too high</td><td>Grind one step coarser</td></tr>
<tr><td>Pale crema, watery</td><td>Stale beans or low temperature</td><td>Use beans roasted within 4 weeks</td></tr>
</table>
<p>The brewing temperature is set to 93 &deg;C at the factory. To change it, hold 1-CUP and 2-CUP
together for 3 seconds; each further press of 1-CUP lowers and 2-CUP raises the temperature by
1 &deg;C within the range 88 to 96 &deg;C. Lighter roasts usually taste best at 94 to 95 &deg;C, dark
roasts at 90 to 91 &deg;C.</p>
<h1>5. Frothing Milk</h1>
<p>Fill a stainless-steel pitcher one third full with cold milk (about 4 &deg;C). Open the steam dial
for two seconds over the drip tray to purge condensed water, then place the tip of the wand just below
the milk surface. Stretch the milk, with a gentle hissing sound, until the pitcher feels lukewarm
(35 to 40 &deg;C), then lower the wand and let the milk spin until it reaches 60 to 65 &deg;C. Do not
exceed 70 &deg;C, as the milk will taste cooked.</p>
<p>Immediately after frothing, wipe the wand with a damp cloth and purge it again for two seconds to
clear milk from inside the tip. Dried milk blocks the steam holes and is the most common cause of weak
steam.</p>
""",
    ),
    (
        "Cleaning and Descaling",
        """
<h1>6. Cleaning and Descaling</h1>
<h2>Daily and weekly cleaning</h2>
<p>Every day, empty and rinse the drip tray and the grounds container, rinse the portafilter and
baskets, and wipe the group head gasket. Once a week, backflush the group head: insert the blind
(unperforated) basket with one Caldera cleaning tablet, press 2-CUP, and repeat five times before
rinsing with clear water.</p>
<h2>How to descale the machine</h2>
<p>Limescale builds up in the thermoblocks even with filtered water. Descale the machine every
<b>8 weeks</b>, or sooner when the orange DESCALE light comes on. At hardness level 4 this is usually
about every 4 weeks. The full programme takes about 25 minutes.</p>
<ol>
<li>Remove the water filter from the tank and set it aside.</li>
<li>Empty the tank, pour in 100 ml of Caldera DeScale liquid and add fresh water up to the 1.0 L
mark (900 ml of water).</li>
<li>Remove the portafilter and place a container holding at least 1.5 litres under the group head
and the steam wand.</li>
<li>With the machine switched on and ready, press and hold HOT WATER and STEAM together for
5 seconds until the DESCALE light flashes.</li>
<li>Turn the steam dial to the open position. The machine pumps descaling solution through the group
head, hot water outlet and steam wand in intervals for about 15 minutes.</li>
<li>When the DESCALE light stays on steadily, close the steam dial, empty the container, rinse the
tank thoroughly and fill it with fresh water to the MAX mark.</li>
<li>Press 1-CUP to start the rinse cycle (about 10 minutes). When the rinse is complete the DESCALE
light goes out and the machine returns to ready mode. Refit the water filter.</li>
</ol>
<p><b>Important:</b> do not use vinegar or citric-acid powder. They attack the seals and the aluminium
of the thermoblocks, and damage caused by unsuitable descalers is not covered by the warranty. If the
descaling programme is interrupted by a power cut, restart it from step 4.</p>
""",
    ),
    (
        "Troubleshooting and Error Codes",
        """
<h1>7. Troubleshooting and Error Codes</h1>
<p>If an error code appears on the display, switch the machine off, correct the cause shown below and
switch it on again. If the code persists, contact Caldera customer service.</p>
<table>
<tr><th>Code</th><th>Meaning</th><th>What to do</th></tr>
<tr><td>E01</td><td>Water tank empty or not seated correctly</td><td>Refill the tank and push it firmly into place until it clicks.</td></tr>
<tr><td>E02</td><td>Thermoblock overheated</td><td>Switch off and let the machine cool for 30 minutes. If E02 returns, contact service.</td></tr>
<tr><td>E03</td><td>No water flow detected by the flow meter</td><td>Check the tank, prime the pump (section 3, step 5) and descale. Coffee ground too fine can also block flow.</td></tr>
<tr><td>E04</td><td>Grinder blocked</td><td>Unplug, empty the hopper and remove the upper burr to clear beans or small stones.</td></tr>
<tr><td>E05</td><td>Drip tray full or missing</td><td>Empty the drip tray and refit it.</td></tr>
<tr><td>E06</td><td>Temperature sensor (NTC) fault</td><td>Not user-serviceable. Contact service.</td></tr>
<tr><td>E09</td><td>Descaling overdue (more than 200 litres since the last descale)</td><td>Descale immediately (section 6). Brewing is blocked after 240 litres.</td></tr>
</table>
<h2>Other problems</h2>
<p><b>Coffee is not hot enough:</b> preheat cups with hot water and raise the brewing temperature.
<b>No crema:</b> use fresher beans and a finer grind. <b>Weak steam:</b> clean the steam tip holes with
the supplied pin and descale the machine. <b>Water under the machine:</b> check that the drip tray is
seated and that the tank is not cracked.</p>
<h2>Warranty and service</h2>
<p>The AE-200 is covered by a 24-month warranty from the date of purchase, provided the machine has
been used and descaled according to this manual. Keep your proof of purchase. Customer service:
+44 20 7946 0813 (Monday to Friday, 08:00 to 18:00 UK time) or support@caldera-home.example.
Please have the serial number from the rating plate under the drip tray ready when you call.</p>
""",
    ),
]

ESPRESSO_TOC = [
    [1, "1. Important Safety Instructions", 1],
    [1, "2. Technical Specifications", 1],
    [1, "3. Setting Up and First Use", 2],
    [2, "Setting the water hardness", 2],
    [2, "Choosing a grind setting", 2],
    [1, "4. Making Espresso", 3],
    [1, "5. Frothing Milk", 3],
    [1, "6. Cleaning and Descaling", 4],
    [2, "Daily and weekly cleaning", 4],
    [2, "How to descale the machine", 4],
    [1, "7. Troubleshooting and Error Codes", 5],
    [2, "Other problems", 5],
    [2, "Warranty and service", 5],
]


# ---------------------------------------------------------------------------
# PDF 3: solar PV degradation research note (no outline, plain page numbers)
# ---------------------------------------------------------------------------

SOLAR_PAGES = [
    (
        "Summary",
        """
<p class="title">Field Degradation of Photovoltaic Modules</p>
<p class="subtitle">Research Note RN-2024-07 &middot; Solstice Energy Research Institute &middot; 12 February 2024<br/>
Dr. Elena Vasquez, Tom&aacute;s Lindqvist, Dr. Hyun-woo Park</p>
<h1>Key findings</h1>
<ul>
<li>Across 2,416 monitored modules at 14 sites, observed between 2014 and 2023, the median power
degradation rate was <b>0.52% per year</b> (interquartile range 0.34% to 0.79%).</li>
<li>Heterojunction (HJT) modules degraded most slowly, at 0.31% per year. Polycrystalline Al-BSF
modules were the fastest-degrading crystalline technology, at 0.68% per year.</li>
<li>Modules at hot-dry desert sites degraded at 0.81% per year, about twice the 0.40% per year seen
at temperate maritime sites.</li>
<li>7% of modules were &ldquo;high degraders&rdquo; losing more than 1.5% per year. Most came from two
production batches affected by encapsulant browning and potential-induced degradation (PID).</li>
<li>The common linear warranty of 0.55% per year is adequate in temperate climates but optimistic for
hot-dry and hot-humid sites.</li>
</ul>
<h1>1. Background</h1>
<p>The rate at which photovoltaic (PV) modules lose output is one of the most important assumptions in
a solar project's financial model. Because energy is summed over the life of the plant, small
differences compound: with linear degradation over 25 years, an increase of 0.2 percentage points in
the annual rate reduces lifetime energy yield by roughly 2.5%. Laboratory accelerated-ageing tests
such as damp heat and thermal cycling are useful for screening, but they do not reproduce the
combination of ultraviolet light, heat, humidity and mechanical load that modules experience in the
field. This note reports long-term field measurements from our monitoring network.</p>
""",
    ),
    (
        "2. Data and Methods",
        """
<h1>2. Data and Methods</h1>
<h2>Sites and modules</h2>
<p>The dataset covers 14 sites in five climate groups: temperate maritime (four sites in the United
Kingdom, the Netherlands and Oregon), hot-dry (three sites in Arizona, the Atacama Desert and
Rajasthan), hot-humid (three sites in Singapore, Queensland and Florida), continental or cold (two
sites in Minnesota and Finland) and Mediterranean (two sites in southern Spain and Cyprus). Modules
were installed between 2013 and 2019, so individual records range from four to ten years in length.
All sites use fixed-tilt mounting except the Arizona site, which uses single-axis trackers.</p>
<h2>Measurements</h2>
<p>Each module is connected to a module-level power electronics device that records current and voltage
every five minutes. Plane-of-array irradiance is measured with secondary-standard pyranometers that
are recalibrated every two years, and back-of-module temperature with adhesive PT100 sensors. In
addition, a 10% random sample of modules is removed once a year and flash-tested indoors at standard
test conditions (STC) to check the field results.</p>
<h2>Calculating degradation rates</h2>
<p>We used the year-on-year (YOY) method. For each module, the daily performance ratio is computed
only from clear-sky periods with irradiance above 600 W/m&sup2; and corrected to a module temperature
of 25 &deg;C using the temperature coefficient from the manufacturer's datasheet. Each daily value is
compared with the value on the same calendar day one year later, and the module's degradation rate is
the median of all these year-on-year changes. Because the method compares like with like, it is
insensitive to seasonal effects and to occasional soiling events.</p>
<p>The first six months after installation were excluded to separate light-induced degradation (LID),
which mostly occurs in the first weeks of operation, from long-term behaviour. The 95% confidence
interval of an individual module's rate is about &plusmn;0.08 percentage points per year for records
longer than five years.</p>
""",
    ),
    (
        "3. Results",
        """
<h1>3. Results</h1>
<h2>Degradation by module technology</h2>
<table>
<tr><th>Technology</th><th>Modules</th><th>Median rate (%/yr)</th><th>Interquartile range</th></tr>
<tr><td>Monocrystalline PERC</td><td class="num">820</td><td class="num">0.45</td><td>0.31&ndash;0.62</td></tr>
<tr><td>Polycrystalline Al-BSF</td><td class="num">610</td><td class="num">0.68</td><td>0.49&ndash;0.91</td></tr>
<tr><td>Heterojunction (HJT)</td><td class="num">240</td><td class="num">0.31</td><td>0.22&ndash;0.43</td></tr>
<tr><td>TOPCon (4-year records only)</td><td class="num">186</td><td class="num">0.39</td><td>0.27&ndash;0.55</td></tr>
<tr><td>Cadmium telluride (CdTe) thin film</td><td class="num">380</td><td class="num">0.42</td><td>0.30&ndash;0.60</td></tr>
<tr><td>Amorphous silicon (a-Si) thin film</td><td class="num">180</td><td class="num">0.94</td><td>0.70&ndash;1.21</td></tr>
</table>
<h2>Degradation by climate</h2>
<table>
<tr><th>Climate group</th><th>Sites</th><th>Median rate (%/yr)</th></tr>
<tr><td>Continental / cold</td><td class="num">2</td><td class="num">0.37</td></tr>
<tr><td>Temperate maritime</td><td class="num">4</td><td class="num">0.40</td></tr>
<tr><td>Mediterranean</td><td class="num">2</td><td class="num">0.55</td></tr>
<tr><td>Hot-humid</td><td class="num">3</td><td class="num">0.66</td></tr>
<tr><td>Hot-dry</td><td class="num">3</td><td class="num">0.81</td></tr>
</table>
<h2>Failure modes</h2>
<p>Visual inspection and electroluminescence imaging of the high degraders point to three main causes.
<b>Encapsulant browning</b> of ethylene-vinyl acetate (EVA) was found in 38% of modules at the hot-dry
sites older than six years, reducing light transmission to the cells. <b>Potential-induced
degradation</b> occurred mainly at the hot-humid sites with 1,500 V system voltage, where one batch of
polycrystalline modules lost up to 9% of power in three years. <b>Light- and elevated-temperature-induced
degradation (LeTID)</b> affected some PERC batches, which lost up to 1.8% in their first two years
before partly recovering. At the Minnesota site, heavy snow loads caused cell cracks in 4% of modules,
although power losses from cracking remained small.</p>
<p>CdTe modules showed an additional stabilisation loss of about 1.1% during their first 18 months,
which is not included in the rate above.</p>
""",
    ),
    (
        "4. Implications and Recommendations",
        """
<h1>4. Implications for Yield Modelling</h1>
<p>Most financial models still assume a single degradation rate of 0.5% per year regardless of site or
technology. Our results suggest this is reasonable for temperate and cold climates but understates
losses in hot climates. For a 100 MW plant in a hot-dry climate, using 0.81% instead of 0.5% per year
reduces expected 25-year output by about 4%, which can move the project's P90 energy estimate by
more than the typical uncertainty of the solar resource assessment itself.</p>
<p>The spread between modules also matters. A plant's output is limited by its weakest strings, so a
small share of high degraders can reduce energy yield more than the median rate suggests, especially
where modules with different degradation are connected in series.</p>
<h1>5. Recommendations</h1>
<ol>
<li>Use technology- and climate-specific degradation rates in yield models: 0.4% per year for
temperate and cold sites, 0.55% for Mediterranean sites and 0.7% to 0.8% for hot-humid and hot-dry
sites, adjusted for the technologies in the table on page 3.</li>
<li>For desert projects, specify UV-stable polyolefin (POE) encapsulants or glass-glass modules and
require independent damp-heat and UV testing of the actual production batch.</li>
<li>At sites with 1,500 V systems and high humidity, require modules certified as PID-resistant and
consider night-time PID recovery equipment.</li>
<li>Run infrared thermography and I-V curve tracing on a sample of strings every year, and compare the
first two years of data with the warranty line to detect LeTID or batch defects early, while
warranty claims are still straightforward.</li>
<li>Keep monitoring at least module-string level; plant-level data hides high degraders.</li>
</ol>
<p class="small">Contact: Dr. Elena Vasquez, Solstice Energy Research Institute, pv-reliability@solstice-research.example.
This note summarises preliminary results; the full dataset will be published with the 2024 annual
reliability report.</p>
""",
    ),
]


# ---------------------------------------------------------------------------
# DOCX helpers
# ---------------------------------------------------------------------------

FIXED_DOCX_DATE = _dt.datetime(2024, 3, 4, 9, 0, 0)
ZIP_DATE = (2024, 3, 4, 9, 0, 0)


def new_docx(title: str, author: str, subject: str, keywords: str) -> docx.document.Document:
    d = docx.Document()
    cp = d.core_properties
    cp.title = title
    cp.author = author
    cp.last_modified_by = author
    cp.subject = subject
    cp.keywords = keywords
    cp.comments = "Generated by kbcli scripts/make_sample_docs.py (fictional demo content)"
    cp.created = FIXED_DOCX_DATE
    cp.modified = FIXED_DOCX_DATE
    cp.last_printed = FIXED_DOCX_DATE
    cp.revision = 1
    normal = d.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    return d


def add_table(d_or_cell, rows: list[list[str]], style: str = "Table Grid"):
    """Add a table whose first row is a bold header row."""
    t = d_or_cell.add_table(rows=len(rows), cols=len(rows[0]))
    t.style = style
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = t.cell(r, c)
            cell.text = text
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True
    return t


def bullets(d, items: list[str], style: str = "List Bullet") -> None:
    for it in items:
        d.add_paragraph(it, style=style)


def save_docx(d, path: Path) -> None:
    """Save with fixed zip member timestamps so output is byte-identical."""
    buf = io.BytesIO()
    d.save(buf)
    buf.seek(0)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            zi = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)
    path.write_bytes(out.getvalue())


# ---------------------------------------------------------------------------
# DOCX 1: employee handbook (nested table)
# ---------------------------------------------------------------------------


def make_handbook(path: Path) -> None:
    d = new_docx(
        "Brightwater Analytics Employee Handbook 2024",
        "Brightwater Analytics People Team",
        "Employee handbook: working hours, leave, remote work, expenses",
        "handbook, leave policy, remote work, expenses, HR",
    )
    d.add_heading("Brightwater Analytics Employee Handbook 2024", level=0)
    d.add_paragraph("Version 4.2 · Effective 1 January 2024 · Owner: People Team (people@brightwater-analytics.example)")

    d.add_heading("1. About This Handbook", level=1)
    d.add_paragraph(
        "This handbook explains the policies that apply to all employees of Brightwater Analytics Ltd "
        "in the United Kingdom. It does not form part of your contract of employment, and the company may "
        "update it from time to time. Where this handbook and your contract differ, your contract takes "
        "precedence. If anything is unclear, ask your line manager or the People Team."
    )

    d.add_heading("2. Working Hours", level=1)
    d.add_paragraph(
        "The standard working week is 37.5 hours, Monday to Friday. We operate flexitime around core hours "
        "of 10:00 to 16:00, during which everyone is expected to be available for meetings. Outside core "
        "hours you may arrange your day as suits you and your team, provided your manager agrees. Overtime "
        "is not paid for salaried staff, but time off in lieu may be agreed for work at weekends."
    )

    d.add_heading("3. Leave Policy", level=1)
    d.add_heading("3.1 Annual Leave", level=2)
    d.add_paragraph(
        "Full-time employees receive 25 days of paid annual leave per holiday year (1 January to "
        "31 December) in addition to the eight UK public holidays. Entitlement increases by one day for "
        "every two complete years of service, up to a maximum of 30 days. Part-time employees receive a "
        "pro-rata entitlement. Requests for more than three consecutive days should be made in the "
        "PeoplePoint portal at least two weeks in advance."
    )
    d.add_paragraph(
        "You may carry over up to 5 unused days into the next holiday year; carried-over days must be "
        "taken by 31 March or they are lost. Unused leave is not paid out, except on leaving the company."
    )
    d.add_heading("3.2 Sick Leave", level=2)
    d.add_paragraph(
        "If you are unwell, tell your line manager by 09:30 on the first day of absence. You can "
        "self-certify absences of up to 7 calendar days; for longer absences you need a fit note from a "
        "doctor. Employees with more than three months' service receive full pay for up to 20 working days "
        "of sickness in any rolling 12-month period, after which Statutory Sick Pay applies."
    )
    d.add_heading("3.3 Parental Leave", level=2)
    d.add_paragraph(
        "A primary caregiver, including after adoption or surrogacy, is entitled to 26 weeks of leave at "
        "full pay followed by up to 26 weeks of further leave, part of it paid at the statutory rate. A "
        "secondary caregiver receives 6 weeks of leave at full pay, which can be taken in blocks of at "
        "least one week at any time in the first year after the birth or placement."
    )
    d.add_heading("3.4 Other Leave", level=2)
    add_table(
        d,
        [
            ["Type of leave", "Entitlement", "Notice or evidence"],
            ["Annual leave", "25 days + public holidays (up to 30 with service)", "2 weeks' notice for more than 3 days"],
            ["Sick leave", "Full pay up to 20 working days per 12 months", "Fit note after 7 calendar days"],
            ["Parental leave (primary)", "26 weeks full pay", "Notify by 15th week before due date"],
            ["Parental leave (secondary)", "6 weeks full pay", "4 weeks' notice"],
            ["Bereavement", "5 days (immediate family), 2 days (others)", "None required"],
            ["Volunteering", "2 days per year", "Manager approval"],
        ],
    )

    d.add_heading("4. Remote and Hybrid Work", level=1)
    d.add_heading("4.1 Hybrid Pattern", level=2)
    d.add_paragraph(
        "Most roles are hybrid. You should work from one of our offices in London or Leeds at least two "
        "days a week. Tuesday and Thursday are anchor days, when teams hold planning meetings and social "
        "events, so please be in the office on those days unless your manager agrees otherwise."
    )
    d.add_heading("4.2 Working from Abroad", level=2)
    d.add_paragraph(
        "You may work remotely from another country for up to 20 working days per calendar year. Requests "
        "must be approved by your manager and the People Team at least four weeks before you travel, so "
        "that we can check tax, immigration and data-protection requirements. Working from countries subject "
        "to UK sanctions is not permitted."
    )
    d.add_heading("4.3 Home Office Equipment", level=2)
    d.add_paragraph(
        "The company provides a laptop, a monitor and a headset. New employees may also claim a one-off "
        "home-office allowance of £400 for a desk, chair or similar equipment, and everyone who works from "
        "home at least one day a week receives an internet allowance of £25 per month through payroll. "
        "Always connect through the company VPN when using public Wi-Fi."
    )

    d.add_heading("5. Expense Reimbursement", level=1)
    d.add_paragraph(
        "We reimburse reasonable costs that you incur wholly for business purposes. Submit claims in the "
        "Claimly app within 30 days of the expense, with an itemised receipt for every item over £10. "
        "Claims approved by the 20th of the month are paid with that month's salary. Claims submitted "
        "more than 90 days after the expense will not be paid."
    )
    d.add_heading("5.1 Spending Limits", level=2)
    add_table(
        d,
        [
            ["Category", "Limit", "Notes"],
            ["Meals while travelling on business", "£25 per day (£45 with overnight stay)", "No alcohol"],
            ["Client entertainment", "£60 per head", "Pre-approval needed if total exceeds £500"],
            ["Taxis", "Actual cost", "Only after 21:00, or when carrying equipment"],
            ["Private car mileage", "45p per mile (first 10,000 miles), 25p after", "Log start and end postcodes"],
            ["Books, courses and conferences", "£500 per year without approval", "Above that, budget holder approval"],
            ["Mobile phone bills", "Not reimbursed", "A company phone is provided on request"],
        ],
    )
    d.add_heading("5.2 Approval Matrix", level=2)
    d.add_paragraph("Who must approve a claim depends on its type and total value:")
    outer = add_table(
        d,
        [
            ["Claim type", "Approval rules"],
            ["Standard expenses", ""],
            ["Client entertainment", "Line manager; any claim above £500 also needs written pre-approval from the budget holder."],
            ["Training and conferences", "Budget holder for amounts above the £500 annual allowance."],
        ],
    )
    cell = outer.cell(1, 1)
    cell.paragraphs[0].text = "Approval depends on the total value of the claim:"
    nested = add_table(
        cell,
        [
            ["Claim value", "Approver"],
            ["Up to £250", "Line manager"],
            ["£250 to £1,000", "Line manager and budget holder"],
            ["Over £1,000", "Finance Director"],
        ],
    )
    assert nested is not None

    d.add_heading("6. Contacts", level=1)
    bullets(
        d,
        [
            "People Team: people@brightwater-analytics.example (leave, parental leave, working abroad)",
            "Finance: expenses@brightwater-analytics.example (Claimly and reimbursements)",
            "IT Service Desk: extension 4400 (laptops, VPN, equipment)",
        ],
    )
    save_docx(d, path)


# ---------------------------------------------------------------------------
# DOCX 2: managed IT services agreement (termination, liability)
# ---------------------------------------------------------------------------


def make_contract(path: Path) -> None:
    d = new_docx(
        "Managed IT Services Agreement",
        "Kestrel IT Services Ltd",
        "Managed IT services contract between Kestrel IT Services Ltd and Harbourside Dental Group Ltd",
        "contract, services agreement, termination, liability, service levels",
    )
    d.add_heading("Managed IT Services Agreement", level=0)
    d.add_paragraph(
        "This Agreement is made on 1 March 2024 (the \"Effective Date\") between Kestrel IT Services Ltd, "
        "a company registered in England and Wales with number 09876543 whose registered office is at "
        "14 Quayside Court, Bristol BS1 4RN (the \"Provider\"), and Harbourside Dental Group Ltd, company "
        "number 11223344, of 3 Marina Way, Plymouth PL1 3AB (the \"Customer\")."
    )

    d.add_heading("1. Definitions", level=1)
    d.add_paragraph(
        "\"Business Day\" means a day other than a Saturday, Sunday or public holiday in England. "
        "\"Services\" means the services described in clause 2. \"Fees\" means the charges set out in "
        "clause 4. \"Customer Data\" means all data, including patient records, that the Customer provides "
        "to the Provider or that the Provider processes on the Customer's behalf."
    )

    d.add_heading("2. Services", level=1)
    d.add_paragraph(
        "The Provider shall supply the following Services for the Customer's four dental practices: "
        "a helpdesk available by telephone and e-mail from 08:00 to 18:00 on Business Days; remote support "
        "for up to 45 users; monitoring and patching of servers, firewalls and network equipment; daily "
        "off-site backup of Customer Data with a 30-day retention period; and up to four hours of on-site "
        "support per month. The Provider shall perform the Services with reasonable skill and care and in "
        "accordance with good industry practice."
    )

    d.add_heading("3. Term", level=1)
    d.add_paragraph(
        "This Agreement starts on the Effective Date and continues for an initial term of 36 months (the "
        "\"Initial Term\"). It then renews automatically for successive periods of 12 months (each a "
        "\"Renewal Term\") unless terminated in accordance with clause 7."
    )

    d.add_heading("4. Fees and Payment", level=1)
    add_table(
        d,
        [
            ["Service", "Fee (excluding VAT)", "Basis"],
            ["Helpdesk and remote support", "£38 per user per month", "45 users = £1,710 per month"],
            ["Server and network monitoring", "£420 per month", "Fixed"],
            ["Backup and disaster recovery", "£310 per month", "Up to 2 TB"],
            ["Additional on-site support", "£95 per hour", "Beyond 4 hours per month"],
        ],
    )
    d.add_paragraph(
        "The Provider shall invoice the monthly Fees in advance. The Customer shall pay each undisputed "
        "invoice within 30 days of receipt. Late payments bear interest at 4% per year above the Bank of "
        "England base rate. The Provider may increase the Fees once a year on the anniversary of the "
        "Effective Date by no more than the annual change in the Consumer Prices Index plus 2%."
    )

    d.add_heading("5. Service Levels", level=1)
    add_table(
        d,
        [
            ["Priority", "Definition", "Response time", "Resolution target"],
            ["P1 Critical", "A practice cannot treat patients (e.g. practice management system down)", "1 hour", "4 hours"],
            ["P2 High", "Several users or one surgery affected", "4 hours", "1 Business Day"],
            ["P3 Normal", "Single user affected, workaround available", "1 Business Day", "3 Business Days"],
            ["P4 Low", "Requests and minor issues", "2 Business Days", "10 Business Days"],
        ],
    )
    d.add_paragraph(
        "If the Provider misses the P1 response time, the Customer is entitled to a service credit of 5% "
        "of that month's Fees for each missed response, up to a maximum of 25% of the monthly Fees. Service "
        "credits are the Customer's sole financial remedy for failure to meet the service levels, except "
        "where the failure gives rise to a right to terminate under clause 7.2."
    )

    d.add_heading("6. Data Protection", level=1)
    d.add_paragraph(
        "The Provider acts as processor of Customer Data and shall comply with the UK GDPR and the Data "
        "Protection Act 2018. The Provider shall notify the Customer without undue delay, and in any case "
        "within 24 hours, after becoming aware of a personal data breach affecting Customer Data. Customer "
        "Data shall be stored only in data centres located in the United Kingdom."
    )

    d.add_heading("7. Termination", level=1)
    d.add_heading("7.1 Termination for Convenience", level=2)
    d.add_paragraph(
        "Either party may terminate this Agreement for convenience by giving the other party not less than "
        "90 days' written notice, provided that such notice may not expire before the end of the Initial "
        "Term. The Customer may instead terminate during the Initial Term on 90 days' written notice by "
        "paying an early termination fee equal to 50% of the monthly Fees that would have been payable for "
        "the remainder of the Initial Term."
    )
    d.add_heading("7.2 Termination for Cause", level=2)
    d.add_paragraph(
        "Either party may terminate this Agreement immediately by written notice if the other party commits "
        "a material breach that is not remedied within 30 days of receiving written notice describing the "
        "breach, or if the other party becomes insolvent, enters administration or ceases to trade. Three or "
        "more missed P1 response times in any rolling three-month period count as a material breach that "
        "cannot be remedied."
    )
    d.add_heading("7.3 Consequences of Termination", level=2)
    d.add_paragraph(
        "On termination the Provider shall provide reasonable exit assistance for up to 60 days, at the rates "
        "in clause 4, and shall return all Customer Data in an industry-standard format within 14 days. The "
        "Provider shall securely delete its copies of Customer Data within 30 days after the return, and "
        "confirm the deletion in writing."
    )

    d.add_heading("8. Limitation of Liability", level=1)
    d.add_paragraph(
        "Nothing in this Agreement limits either party's liability for death or personal injury caused by "
        "its negligence, for fraud or fraudulent misrepresentation, or for any other liability that cannot "
        "be limited by law."
    )
    d.add_paragraph(
        "Subject to that, each party's total aggregate liability arising under or in connection with this "
        "Agreement in each contract year is limited to 125% of the Fees paid or payable in the 12 months "
        "before the event giving rise to the claim. Liability for breach of clause 6 (Data Protection) is "
        "subject instead to a separate cap of £500,000. Neither party is liable for loss of profits, loss "
        "of goodwill, or any indirect or consequential loss. The Provider's liability for loss or "
        "corruption of data is limited to the cost of restoring the data from the most recent backup."
    )

    d.add_heading("9. Insurance", level=1)
    d.add_paragraph(
        "During the term and for two years afterwards, the Provider shall maintain professional indemnity "
        "insurance of at least £2 million per claim and cyber liability insurance of at least £1 million."
    )

    d.add_heading("10. Notices and Governing Law", level=1)
    d.add_paragraph(
        "Notices must be in writing and delivered by hand, by recorded post or by e-mail to the addresses "
        "in the signature block below. This Agreement is governed by the law of England and Wales, and the "
        "courts of England and Wales have exclusive jurisdiction."
    )
    add_table(
        d,
        [
            ["", "Provider", "Customer"],
            ["Company", "Kestrel IT Services Ltd", "Harbourside Dental Group Ltd"],
            ["Signed by", "Owen Pryce, Managing Director", "Dr. Fiona Marsh, Clinical Director"],
            ["Notice e-mail", "contracts@kestrel-it.example", "admin@harbourside-dental.example"],
            ["Date", "1 March 2024", "1 March 2024"],
        ],
    )
    save_docx(d, path)


# ---------------------------------------------------------------------------
# DOCX 3: corporate travel policy with Simplified Chinese summary
# ---------------------------------------------------------------------------


def make_travel_policy(path: Path) -> None:
    d = new_docx(
        "Meridian Engineering Group Corporate Travel Policy",
        "Meridian Engineering Group Finance",
        "Business travel rules: booking, flights, hotels, per diems, safety",
        "travel policy, flights, hotel limits, per diem, 差旅政策",
    )
    d.add_heading("Corporate Travel Policy", level=0)
    d.add_paragraph("Meridian Engineering Group · Policy TP-03 · Effective 1 April 2024 · Approved by the Chief Financial Officer")

    d.add_heading("1. Purpose and Scope", level=1)
    d.add_paragraph(
        "This policy applies to all employees and contractors of Meridian Engineering Group who travel on "
        "company business. It aims to keep travellers safe, to control costs and to reduce the environmental "
        "impact of travel. Before booking any trip, consider whether a video call would serve the purpose "
        "equally well."
    )

    d.add_heading("2. Booking and Approval", level=1)
    d.add_paragraph(
        "All flights, rail tickets and hotels must be booked through the TripDesk portal, which is operated "
        "by our travel management company. Flights must be booked at least 14 days before departure unless "
        "the trip is urgent and your manager confirms this in TripDesk. Every trip requires approval from "
        "your line manager; international trips also require approval from the regional director. Always "
        "choose the lowest logical fare that fits the business schedule."
    )

    d.add_heading("3. Air and Rail Travel", level=1)
    d.add_paragraph(
        "Rail is the preferred option for journeys of less than four hours door to door. Flight class "
        "depends on the scheduled flight time of each flight segment:"
    )
    bullets(
        d,
        [
            "Under 6 hours: economy class.",
            "6 hours or more: premium economy.",
            "Over 10 hours: business class, only with prior approval from a director.",
        ],
    )
    d.add_paragraph(
        "One checked bag is allowed. Seat selection fees are reimbursable on flights over 3 hours. Frequent "
        "flyer points may be kept by the traveller but must not influence the choice of airline."
    )

    d.add_heading("4. Accommodation", level=1)
    d.add_paragraph(
        "Book standard rooms in hotels listed in TripDesk. The following nightly limits include taxes but "
        "exclude breakfast. Exceptions, for example during major trade fairs, must be approved in advance "
        "by the regional director."
    )
    add_table(
        d,
        [
            ["City", "Maximum per night", "Notes"],
            ["London", "£190", "Zones 1–2"],
            ["Manchester", "£130", ""],
            ["New York", "US$320", "Manhattan"],
            ["Singapore", "S$300", ""],
            ["Shanghai", "CNY 1,200", "Pudong or Jing'an"],
            ["Frankfurt", "€170", "€260 during trade fairs"],
            ["All other cities", "£140 or local equivalent", ""],
        ],
    )

    d.add_heading("5. Meals, Per Diems and Claims", level=1)
    d.add_paragraph(
        "For domestic trips with an overnight stay, meals are reimbursed at actual cost up to £40 per day. "
        "For international trips you receive a per diem of US$75 per day, or the local equivalent, which "
        "covers meals, drinks and tips; receipts are not needed for the per diem. Alcohol is not "
        "reimbursed except as part of approved client entertainment. Submit all travel expenses within "
        "30 days of returning from the trip."
    )

    d.add_heading("6. Ground Transport", level=1)
    d.add_paragraph(
        "Use public transport where practical. Taxis or ride-hailing services may be used when travelling "
        "with heavy equipment, between 22:00 and 06:00, or where public transport is unsafe. Hire cars "
        "must be compact class or smaller, and insurance is covered by the company's fleet policy. Use of a "
        "private car is reimbursed at 45p per mile."
    )

    d.add_heading("7. Safety and Insurance", level=1)
    d.add_paragraph(
        "All trips booked in TripDesk are automatically registered with our travel security provider. "
        "Travel to destinations rated high risk requires approval from the Head of Security at least 10 "
        "days before departure and a pre-travel briefing. The company's travel insurance covers medical "
        "treatment, evacuation and lost baggage; the 24-hour emergency assistance line is +44 20 7946 0550."
    )

    d.add_heading("8. 中文摘要（Chinese Summary）", level=1)
    d.add_paragraph(
        "本政策适用于子午线工程集团（Meridian Engineering Group）全体员工及承包商的商务出行，"
        "旨在保障出行安全、控制成本并减少差旅对环境的影响。主要规定如下："
    )
    bullets(
        d,
        [
            "所有机票、火车票和酒店均须通过 TripDesk 差旅平台预订；机票须在出发前至少14天预订，并经直属经理批准，国际出差还需区域总监批准。",
            "门到门4小时以内的行程应优先乘坐火车。",
            "飞行时间少于6小时的航班乘坐经济舱；6小时及以上可乘坐超级经济舱；超过10小时且经董事事先批准方可乘坐商务舱。",
            "酒店每晚住宿上限（含税、不含早餐）：伦敦190英镑，纽约320美元，上海人民币1,200元，法兰克福170欧元。",
            "国际出差每日补贴为75美元或等值当地货币，包含餐饮和小费；酒精饮料不予报销（经批准的客户招待除外）。",
            "前往高风险地区须在出发前至少10天获得安保负责人批准。所有差旅费用须在返程后30天内提交报销。",
        ],
    )
    save_docx(d, path)


# ---------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------

README = """\
# Sample documents

Fictional demo corpus for kbcli, generated by `scripts/make_sample_docs.py`
(run `.venv/bin/python scripts/make_sample_docs.py` to regenerate). Page numbers below are
physical pages (1-based); the annual report's printed page labels are shown in parentheses.

- `northwind_annual_report_2023.pdf` (5 pages, outline, page labels i, 1-4, Chinese summary): Northwind Tea Co. annual report excerpt: chair's letter, five-year financials, capital expenditure, sourcing, risk factors, 2024 outlook. Q: "What was Northwind's revenue in 2023?" → $47.9 million, page 2 (label "1").
- `caldera_aurora_espresso_manual.pdf` (5 pages, outline, "Page n of 5" footers): user manual for the Caldera Aurora AE-200 espresso machine: safety, setup, brewing, milk frothing, descaling, error codes. Q: "How do I descale the espresso machine?" → page 4 (section 6).
- `solar_pv_degradation_research_note.pdf` (4 pages, no outline): research note on field degradation rates of PV modules by technology and climate. Q: "What degradation rate did heterojunction modules show?" → 0.31%/year, page 3 (also summarised on page 1).
- `brightwater_employee_handbook_2024.docx` (headings, 3 tables, one table nested in a cell): employee handbook: working hours, annual/sick/parental leave, hybrid and remote work, expense limits and approval matrix. Q: "How many days of annual leave can I carry over?" → 5 days, until 31 March (section 3.1 Annual Leave).
- `kestrel_managed_it_services_agreement.docx` (headings, 3 tables): managed IT services contract with fees, service levels, termination and liability clauses. Q: "What is the notice period for terminating the contract?" → 90 days' written notice (section 7.1 Termination for Convenience).
- `meridian_corporate_travel_policy.docx` (headings, 1 table, Simplified Chinese summary): corporate travel policy: booking, flight class, hotel limits per city, per diems, safety. Q: "What is the hotel limit in Shanghai?" / "上海酒店每晚住宿上限是多少？" → CNY 1,200 (section 4 Accommodation and section 8 中文摘要).

More questions with one clear answer:

- "Northwind capital expenditure 2023" → northwind_annual_report_2023.pdf page 3 (label "2"): $6.8 million, $4.2 million for the Tacoma facility.
- "What does error code E03 mean?" → caldera_aurora_espresso_manual.pdf page 5: no water flow detected.
- "Which currencies is Northwind exposed to?" → northwind_annual_report_2023.pdf page 4 (label "3"), Risk Factors.
- "How was the year-on-year degradation method applied?" → solar_pv_degradation_research_note.pdf page 2.
- "What is the liability cap in the IT services agreement?" → kestrel_managed_it_services_agreement.docx section 8: 125% of the previous 12 months' fees.
- "When can I fly business class?" → meridian_corporate_travel_policy.docx section 3: flights over 10 hours with director approval.
"""


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    # Remove only files that this script generates (regenerate cleanly).
    for p in OUT.iterdir():
        if p.is_file() and p.suffix.lower() in {".pdf", ".docx"}:
            p.unlink()

    build_pdf(
        OUT / "northwind_annual_report_2023.pdf",
        title="Northwind Tea Co. Annual Report 2023 (excerpt)",
        author="Northwind Tea Co.",
        subject="Annual report for the fiscal year ended 31 December 2023",
        keywords="annual report, revenue, capital expenditure, risk factors, tea",
        header_left="Northwind Tea Co. · Annual Report 2023",
        footer_left="Northwind Tea Co. — Annual Report for the fiscal year ended 31 December 2023",
        pages=NORTHWIND_PAGES,
        toc=NORTHWIND_TOC,
        labels=NORTHWIND_LABELS,
    )
    build_pdf(
        OUT / "caldera_aurora_espresso_manual.pdf",
        title="Caldera Aurora AE-200 Espresso Machine - User Manual",
        author="Caldera Home Appliances",
        subject="User manual: setup, brewing, descaling, error codes",
        keywords="espresso machine, manual, descaling, error codes",
        header_left="Caldera Aurora AE-200 · User Manual",
        footer_left="Manual no. AE200-EN rev. C · © Caldera Home Appliances",
        pages=ESPRESSO_PAGES,
        toc=ESPRESSO_TOC,
        footer_total=True,
    )
    build_pdf(
        OUT / "solar_pv_degradation_research_note.pdf",
        title="Field Degradation of Photovoltaic Modules (RN-2024-07)",
        author="Elena Vasquez; Tomás Lindqvist; Hyun-woo Park",
        subject="Research note on long-term PV module degradation rates",
        keywords="photovoltaic, solar panels, degradation rate, reliability",
        header_left="Solstice Energy Research Institute · Research Note RN-2024-07",
        footer_left="Preliminary results · not peer reviewed",
        pages=SOLAR_PAGES,
    )
    make_handbook(OUT / "brightwater_employee_handbook_2024.docx")
    make_contract(OUT / "kestrel_managed_it_services_agreement.docx")
    make_travel_policy(OUT / "meridian_corporate_travel_policy.docx")
    (Path(__file__).with_name("sample_docs.md")).write_text(README, encoding="utf-8")

    total = 0
    for p in sorted(OUT.iterdir()):
        size = p.stat().st_size
        total += size
        print(f"{size:>8}  {p.relative_to(ROOT)}")
    print(f"{total:>8}  total bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
