"""Hand-written vocabulary for the deterministic demo data generator (see ``demo_data``).

Everything here is plain data. The request concepts are written in a small line format so that
~300 concepts stay readable and cheap to edit:

    # Theme name            -> theme (``metadata.theme``) of the concepts that follow
    T <title>               -> starts a concept
    D <description>         -> request description: what it is, then why it hurts today (the
                               reference's request agent writes pain-focused descriptions; the
                               pain sentence also lifts matching to real-data similarity levels)
    P a | b | c             -> customer pains: verb phrases that follow a PLURAL subject
                               ("they", "their analysts") - e.g. "can't tell which ..."
    A a | b | c             -> what the customer asks for: noun phrases ("a way to ...")

Pains and asks are deliberately worded differently from the title: feedback entries are built
from them, and the whole point of the demo data is to measure semantic (not lexical) matching.
Several concepts are near neighbours on purpose (PDF vs CSV exports, Slack alerts vs Slack
snapshots, CDC vs cursor syncs, ...) so that matching is not trivial.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# Product areas (ids, names and slugs are the reference seed's)
# --------------------------------------------------------------------------------------------

AREAS: list[dict[str, str]] = [
    {
        "id": "dashboards",
        "name": "Dashboards",
        "description": "Building, viewing and sharing dashboards: charts, filters, layout and interactivity.",
    },
    {
        "id": "data-ingestion",
        "name": "Data Ingestion",
        "description": "Connectors and pipelines that bring data in from databases, SaaS tools, files and event streams.",
    },
    {
        "id": "transformations",
        "name": "Transformation Modeling",
        "description": "The modeling layer: metric definitions, SQL and dbt models, calendars, joins and data quality.",
    },
    {
        "id": "integrations",
        "name": "Integrations",
        "description": "Connections to the rest of the stack: CRM write-back, Slack and Teams, embedding, APIs and automation.",
    },
    {
        "id": "reporting",
        "name": "Reporting & Exports",
        "description": "Scheduled delivery and exports: PDFs, spreadsheets, emailed reports and report packs.",
    },
    {
        "id": "access-management",
        "name": "Access Management",
        "description": "Identity, permissions and security: SSO, provisioning, row-level security, audit and compliance.",
    },
    {
        "id": "performance",
        "name": "Performance & SLAs",
        "description": "Speed, scale and reliability, and the commitments behind them: caching, capacity, uptime and SLAs.",
    },
    {
        "id": "ai-insights",
        "name": "AI Insights",
        "description": "AI features: natural-language questions, anomaly detection, forecasting and generated summaries.",
    },
]

# Plural subjects only, so every pain phrase ("can't ...", "have to ...") agrees with them.
AREA_PERSONAS: dict[str, list[str]] = {
    "dashboards": [
        "their analysts",
        "their business users",
        "the execs",
        "their ops managers",
        "the BI folks",
        "their regional managers",
    ],
    "data-ingestion": [
        "their data engineers",
        "the data folks",
        "their platform engineers",
        "the analytics engineers",
    ],
    "transformations": [
        "their analytics engineers",
        "the data modelers",
        "their analysts",
        "the data folks",
    ],
    "integrations": ["their developers", "the RevOps people", "their engineers", "the ops folks"],
    "reporting": [
        "their finance people",
        "the FP&A folks",
        "their account managers",
        "the execs",
        "their ops leads",
    ],
    "access-management": [
        "their IT admins",
        "the security folks",
        "their admins",
        "the compliance people",
    ],
    "performance": [
        "their users",
        "the admins",
        "the execs",
        "their data engineers",
        "their platform engineers",
    ],
    "ai-insights": [
        "their business users",
        "the execs",
        "their analysts",
        "their CSMs",
        "their sales leaders",
    ],
    "_nomatch": ["their users", "their admins", "the execs", "their analysts"],
}

# --------------------------------------------------------------------------------------------
# Request concepts, per area
# --------------------------------------------------------------------------------------------

REQUEST_CONCEPTS: dict[str, str] = {}

REQUEST_CONCEPTS["dashboards"] = """
# Interactivity
T Cross-filtering between dashboard charts
D Clicking a bar, slice or map region on one chart should filter every other chart on the same dashboard, so users can explore without setting filters by hand. Without it, exploring a dashboard means re-applying one filter chart by chart.
P have to apply the same filter to every chart one at a time | click a region on the map and nothing else on the page reacts | can't slice the whole page by clicking on a data point
A click-to-filter that applies across every chart on the page | charts that filter each other when you click a segment | linked interactions between dashboard widgets

T Drill-down from summary charts to row-level detail
D Let viewers click any aggregated value to drill into the next level (region, then country, then account) and finally the underlying records. Viewers who spot an odd total currently depend on an analyst to dig out the records.
P see a number that looks off and have no way to click into the records behind it | end up asking an analyst to pull the raw rows every time a total looks wrong | only see the top-level rollup, never the accounts that make it up
A the ability to click a total and land on the underlying rows | click-through from a chart into the next level of detail | drill-down on charts to the records underneath

# Filters
T Dashboard date range picker with comparison periods
D A global date control with presets (last 7 days, quarter to date) and automatic comparison to the previous period or the same period last year. Period comparisons are currently built by duplicating charts or in spreadsheets.
P duplicate every chart to compare this quarter against last quarter | can't see week-over-week change without exporting to a spreadsheet | edit each tile's date filter by hand before the Monday meeting
A a single date range control with period-over-period comparison | presets like quarter-to-date plus year-over-year deltas | a compare-to-previous-period toggle

T Saved filter views per user
D Users can save a named combination of filter values on a dashboard and return to it later, without changing the dashboard for everyone else. People repeat the same filter selections daily and overwrite each other on shared dashboards.
P re-select the same twelve filter values every morning | overwrite each other's filters on shared dashboards | lose their filter selections whenever they reload the page
A personal bookmarks of filter states | saved views they can switch between | a way to remember each person's filter selections

T Cascading dependent filters
D Filter options should narrow based on other filter selections, e.g. choosing a region limits the country dropdown to countries in that region. Unrelated dropdown values and empty filter combinations make large dashboards frustrating.
P pick EMEA and still see every US state in the next dropdown | get empty charts because the filter combinations don't exist | scroll through thousands of irrelevant values in linked dropdowns
A filters that narrow each other's options | dependent dropdowns, region first, then country, then city | linked filter values

# Authoring
T Dashboard templates gallery
D A library of prebuilt dashboard templates (SaaS metrics, marketing funnel, support KPIs) that can be cloned and pointed at the customer's own data. New teams start from an empty canvas and recreate standard layouts by hand.
P build every new dashboard from a blank canvas | spent weeks recreating a standard SaaS metrics layout | have new teams asking where to start when they onboard
A starter templates for common use cases | a gallery of prebuilt dashboards to clone | out-of-the-box layouts for sales and marketing KPIs

T Markdown and rich text blocks on dashboards
D Text tiles with markdown, headings, links and dynamic values, to explain what a dashboard shows. Authors have nowhere to explain definitions or guide readers through a dashboard.
P can't add explanatory text next to the charts | cram instructions into the dashboard title because there's nowhere else to put them | want headers and links between sections
A rich text tiles with links | markdown blocks | text widgets that can show live values

T Image and logo widgets on dashboards
D Upload images or logos into dashboard tiles, e.g. client logos for agency reports or architecture diagrams. Client-facing and agency dashboards cannot carry logos or diagrams today.
P can't put the client's logo on the dashboard they share | paste diagrams next to charts in slides instead | want a picture in the header of the page
A image tiles | a way to upload a logo onto a dashboard | picture widgets

T Undo and redo in the dashboard editor
D Standard multi-step undo and redo for edits in the dashboard builder. A single wrong click in the builder can destroy work that cannot be recovered.
P delete a chart by accident and can't get it back | lose layout changes with one wrong click | are afraid to experiment in the editor
A Ctrl+Z in the editor | multi-step undo | undo and redo for layout edits

# Branding
T Custom color palettes and brand theming
D Let admins define brand colors, fonts and a default chart palette applied to every dashboard in the workspace. Analysts restyle charts manually and still end up with inconsistent, off-brand visuals.
P recolor every chart by hand to match brand guidelines | get pushback from marketing because the charts look off-brand | end up with every analyst picking different colors
A workspace-wide brand colors and fonts | a custom theme that all charts inherit | the option to upload their color palette once

# Tables
T Conditional formatting in table charts
D Color cells, rows or text based on rules or thresholds (red below target, green above) in table and pivot visualizations. Spotting under-target rows in large tables is slow without visual cues.
P scan hundreds of rows by eye to spot the accounts that are under target | copy tables into Excel just to color the bad numbers red | can't set color rules on table cells
A red/green cell coloring based on thresholds | formatting rules that color table cells | Excel-style color scales on table columns

T Pivot tables with subtotals
D Pivot tables that support multiple row and column groupings, subtotals, grand totals and collapsible groups. Teams export to spreadsheets to get cross-tabs with totals.
P export everything to Excel to build pivots | can't show totals per region and per product in one table | rebuild the same cross-tab in spreadsheets every month
A real pivots with subtotals and grand totals | multi-level row and column grouping | collapsible groupings like in Excel

T Frozen header rows and columns in tables
D Keep headers and the first columns visible while scrolling wide or long tables. Wide tables become unreadable once users scroll away from the key columns.
P lose track of which column is which when they scroll a wide table | scroll sideways and the account name disappears | find large tables unreadable once they scroll
A sticky headers and a pinned first column | freeze panes like in a spreadsheet | the option to lock key columns in place

# Charts
T Geographic map visualizations
D Choropleth and point maps by country, state, postal code or lat/long, with drill into regions. Territory and location analysis currently requires a separate mapping tool.
P can't show sales by territory on a map | use a separate tool to plot store locations | present their regional view as a table of fifty states that nobody reads
A choropleth maps by state and postal code | a way to plot locations from lat/long | a proper map chart type

T Sankey and flow diagrams
D Sankey diagrams to visualize flows between stages, e.g. lead sources to opportunities to closed deals, or user paths between pages. Stage-to-stage movement is hard to explain with bars and ends up drawn by hand.
P can't visualize how leads move between stages | try to explain user paths with stacked bar charts | draw flow diagrams by hand in slides
A sankey charts for stage-to-stage flows | a visual of the paths between steps | flow diagrams

T Combo charts with dual y-axes
D Combine bars and lines in one chart with independent left and right axes, e.g. revenue bars with a margin % line. Metrics with different units cannot be compared on one visual today.
P can't plot revenue and margin percentage on the same chart | put two charts side by side and ask execs to compare them by eye | lose the percentage line because the dollar scale squashes it
A bars and a line combined with a secondary axis | a second y-axis | mixed chart types in one visual

T Cohort retention heatmaps
D A cohort chart showing retention by signup month across subsequent periods, as a triangle heatmap. Retention by signup cohort is rebuilt manually in spreadsheets every quarter.
P can't show retention by signup month without a spreadsheet | build the cohort triangle by hand every quarter | can't see whether newer cohorts stick around better
A the classic cohort retention triangle | retention curves by signup cohort | a cohort heatmap chart type

T Waterfall charts for revenue bridges
D A waterfall chart showing how a starting value moves to an ending value, e.g. an ARR bridge with new, expansion, contraction and churn. Finance builds ARR bridges outside the product for board decks.
P build the ARR bridge for the board deck in PowerPoint | can't show new, expansion and churn movements visually | fake waterfalls with stacked bars and invisible series
A an ARR bridge chart | waterfall visuals from starting to ending balance | a native waterfall chart type

T KPI tiles with targets and sparklines
D Single-number KPI tiles showing the current value, change vs. previous period, a sparkline trend and an optional target. Headline numbers lack trend and target context, so readers can't judge them.
P see a big number with no context of whether it's good or bad | want the trend line next to the headline metric | can't show a target next to the KPI value
A scorecards with trend sparklines | big-number tiles with delta and target | KPI cards with period-over-period change

T Custom tooltips on charts
D Let authors choose which fields and formatted text appear when hovering over a chart element. Hovering shows only raw values, so readers miss the context they need.
P hover over a bar and only see the raw value | can't show the account owner when someone hovers over a point | want extra context on hover without adding more charts
A configurable hover text | extra fields in tooltips | rich tooltips with formatted values

# Metrics
T Goal tracking against quarterly targets
D Define targets per metric and period (e.g. quarterly bookings) and show attainment and pacing on dashboards. Attainment and pacing are tracked in side spreadsheets instead of on dashboards.
P track quota attainment in a separate spreadsheet | can't tell mid-quarter whether they're pacing to target | upload targets by hand into a table every quarter
A quarterly targets with pacing indicators | goal attainment percentages on dashboards | a place to enter and track goals

# Collaboration
T Annotations on time-series charts
D Add notes to specific dates on a line chart (e.g. "pricing change", "outage") that every viewer can see. The reasons behind spikes and dips get lost and are re-explained in every meeting.
P forget why a spike happened three months later | explain the same dip in every meeting | keep a separate doc of the events behind the trend lines
A notes pinned to a date on the chart | event markers on line charts | shared chart annotations

T Comments and @mentions on dashboards
D Threaded comments on dashboards and charts with @mentions and notifications. Conversations about numbers happen in email and chat, detached from the charts.
P discuss dashboards in email threads that lose all context | discuss charts in side threads instead of on the dashboard itself | can't tag a colleague on a specific chart
A comment threads on charts | @mentions of a teammate on a dashboard | discussions that live inside the dashboard

# Governance
T Dashboard version history and restore
D Keep a history of dashboard changes with who changed what, and allow restoring a previous version. Accidental or unknown edits to important dashboards cannot be traced or undone.
P had someone break a key dashboard and couldn't undo it | don't know who changed the board dashboard last week | rebuild dashboards from memory after accidental edits
A a change history with one-click restore | versioning for dashboards | a way to roll back to yesterday's version

T Dashboard usage analytics
D Show admins which dashboards are viewed, by whom and how often, to clean up unused content and find popular ones. Admins can't tell which content is used, so unused dashboards pile up.
P have hundreds of dashboards and no idea which ones anyone opens | can't tell whether the exec team actually looks at the board dashboard | want to archive unused dashboards but have no usage data
A usage stats showing who views each dashboard | adoption metrics for their content | a report of dashboards nobody has opened in 90 days

# Display
T Auto-refresh dashboards for TV wall displays
D A kiosk mode that auto-refreshes on an interval and cycles through dashboards on office screens, without session timeouts. Office screens show stale data and get logged out during the day.
P have office TVs showing stale numbers from the morning | get logged out of the wall display every few hours | reload the screen in the support room by hand
A a kiosk mode for office screens | periodic auto-refresh for displays | rotating dashboards on a TV

T Full-screen presentation mode
D Present a dashboard full-screen, one section at a time, without the editing chrome, for meetings. Presenters fall back to screenshots in slides because the editor UI gets in the way.
P screenshot charts into slides for the weekly meeting | see the editing toolbar and side panel while presenting | want to walk through a dashboard like a slide deck
A a clean presentation mode | a slide-style walkthrough of a dashboard | a full-screen view without the editor UI

# Layout
T Mobile-responsive dashboard layouts
D Dashboards should reflow for phones and tablets, with an optional separate mobile layout. Dashboards are hard to read on phones and tablets, which hurts field teams.
P open dashboards on their phones and have to pinch and zoom | have field reps who can't read the charts on an iPad | find tables cut off on small screens
A layouts that adapt to phone screens | a mobile-friendly view | a separate layout for small screens

T Free-form dashboard layout with grid snapping
D Allow precise, free placement and resizing of tiles with snapping to a grid, instead of fixed rows. The rigid layout prevents authors from arranging tiles the way they need.
P fight the rigid layout to put two small charts next to a large one | can't align tiles the way their design team wants | waste time resizing tiles that jump around
A drag-and-drop placement with snapping | pixel-level control over tile size | a flexible grid layout

T Tabs within a single dashboard
D Organize large dashboards into tabs that share filters, instead of one long scrolling page. Very long dashboards are hard to navigate, and splitting them loses shared filters.
P scroll through forty charts on one page | split one dashboard into five and lose the shared filters | get lost in long dashboards
A tabs that share the same filters | multiple pages inside one dashboard | tabbed sections

# Sharing
T Dashboard URL parameters for prefiltered links
D Pass filter values in the URL so links from other tools open the dashboard already filtered to an account, region or date. Links from CRMs and other tools cannot open a dashboard in the right context.
P send a link and then explain which filters to set | can't link from Salesforce to a dashboard already filtered to that account | copy the URL and the filters get lost
A links that carry filter values | prefiltered deep links | query-string parameters for filters

T Public share links with expiration
D Share a read-only dashboard with people outside the company via a link that can expire or be password protected. Sharing with partners who have no login relies on screenshots and cannot be revoked.
P email screenshots to partners because they don't have logins | need to share one dashboard with an agency for two weeks | can't revoke links they've already sent out
A expiring share links | password-protected public links | read-only external links

# Organization
T Dashboard folders and favorites
D Nested folders for organizing dashboards plus per-user favorites on the home page. In large workspaces people cannot find the few dashboards they need.
P have 600 dashboards in one flat list | can't find the five dashboards they use every day | put prefixes in dashboard names to fake folders
A nested folders | a favorites list on the home page | a way to pin what they use most

T Search across dashboards and charts
D Full-text search across dashboard titles, chart names, descriptions and the fields they use. Existing charts are hard to discover, so people rebuild them.
P can't find the chart that shows churn by plan | rebuild charts because they can't find the existing ones | only get matches on exact dashboard titles when they search
A search that covers chart names and fields | global content search | a way to find charts by the metric they use

T Copy dashboards between workspaces
D Duplicate a dashboard with its charts into another workspace and remap its data sources. Multi-workspace customers rebuild identical dashboards by hand in each workspace.
P rebuild the same dashboard by hand in each regional workspace | can't move content from staging to the customer workspace | copy charts one by one between workspaces
A cross-workspace duplication with data source remapping | a copy-to-workspace action | promotion of dashboards between workspaces

# Formatting
T Per-dashboard timezone setting
D Let a dashboard (or viewer) choose the timezone used to bucket dates, instead of UTC. UTC bucketing shows the wrong day's numbers to teams in other time zones.
P see yesterday's sales split across two days because everything is in UTC | have APAC viewers reading the wrong day's numbers | convert timestamps by hand in every chart
A dashboards that display in local time | a timezone selector | date bucketing in the viewer's timezone

T Locale-aware currency and number formatting
D Format numbers, currencies and dates per locale (1.234,56 €, DD/MM/YYYY), per dashboard or per user. International teams see the wrong currency symbols and confusing separators.
P see dollar signs on euro revenue | have German users confused by the decimal separators | can't show yen and euros side by side properly
A currency symbols per field | European number formats | locale-specific date and number display
"""

REQUEST_CONCEPTS["data-ingestion"] = """
# Connectors
T Native Salesforce connector with incremental sync
D Sync Salesforce standard and custom objects incrementally, including formula fields and history tables, without full reloads. CRM data currently needs a third-party ETL tool or expensive full reloads.
P pay for a third-party ETL tool only to get Salesforce data in | reload the whole Salesforce org every night | can't get custom objects or field history into the platform
A a built-in Salesforce connector | incremental syncs of CRM objects, custom ones included | CRM data landing without a middleman tool

T HubSpot connector
D Native connector for HubSpot CRM and marketing objects (contacts, companies, deals, email events). HubSpot data reaches the platform only through CSV exports or fragile automations.
P export HubSpot deals to CSV every week | can't get HubSpot email engagement data into their analysis | run a fragile Zapier flow to pull HubSpot data in
A a native sync that pulls in HubSpot contacts, companies and deals | marketing email events ingested from HubSpot | HubSpot as a data source

T Stripe billing data connector
D Sync Stripe customers, subscriptions, invoices and charges to power revenue and churn metrics. Revenue and churn metrics depend on manual billing exports.
P export Stripe invoices every month to compute MRR | can't tie subscription changes to product usage | pay for a separate tool just for their Stripe metrics
A a Stripe source with subscriptions and invoices | billing events from Stripe | native payment data syncs

T NetSuite connector
D Ingest NetSuite financial records (GL, invoices, customers) including custom records and saved searches. Finance data stays locked in the ERP and is reconciled by hand.
P run saved searches in NetSuite and email the results to themselves | can't reconcile bookings with the general ledger | have finance data trapped in the ERP
A a native NetSuite sync including custom records | ERP data from NetSuite | general ledger ingestion

T Zendesk support data connector
D Sync Zendesk tickets, comments, satisfaction ratings and SLA metrics. Support metrics can't be analyzed alongside product and revenue data.
P can't correlate ticket volume with churn | export Zendesk reports by hand every week | want support metrics next to product usage
A tickets and CSAT from Zendesk | a helpdesk data source | native Zendesk ingestion

T Google Ads and Meta Ads connectors
D Ingest ad spend, impressions and conversions from Google Ads and Meta at campaign and ad level. Marketing spend is copied by hand, so CAC and ROAS are hard to compute.
P copy ad spend from two ad consoles into a spreadsheet | can't compute CAC because spend data isn't available | rely on their agency to send over spend numbers
A ad platform spend data | Google Ads and Facebook campaign stats | paid media sources

T Jira connector
D Sync Jira issues, sprints and changelogs for engineering delivery analytics. Engineering delivery metrics require manual issue exports.
P can't measure cycle time from Jira data | export issues every sprint for the engineering review | want to link bugs to the customers they affect
A Jira issues and sprints as a source | engineering ticket data | a native sync from Jira Cloud

T Workday HR connector
D Ingest Workday workers, org hierarchy and headcount data for people analytics. People analytics depends on monthly spreadsheets from HR.
P get headcount in a monthly spreadsheet from HR | can't build attrition reports | don't have employee data like hires, exits and departments
A people data from Workday | HRIS ingestion | employee and headcount data as a source

T Shopify connector
D Sync Shopify orders, products, customers and refunds, across multiple stores. Multi-store ecommerce data is combined by hand.
P run several Shopify stores and combine the orders by hand | can't see refunds next to orders | rely on an app export that breaks often
A a multi-store Shopify sync | ecommerce order data | native Shopify ingestion

T Google Analytics 4 connector
D Ingest GA4 events and reports, including custom dimensions, for web analytics alongside business data. Web analytics can't be joined with signups and revenue.
P lost their web traffic history when Universal Analytics went away | can't join sessions with signups | screenshot the GA4 UI for their reports
A GA4 data in the platform | web analytics events with custom dimensions | a Google Analytics source

T Databricks Unity Catalog connector
D Connect to Databricks SQL warehouses and browse Unity Catalog tables with their permissions. Lakehouse customers must copy data elsewhere before they can use it.
P moved to Databricks and can't point the platform at it | copy Delta tables into another warehouse first | can't see their Unity Catalog schemas
A Databricks as a source | Unity Catalog browsing | native Delta Lake access

T Custom REST API connector builder
D A no-code builder to define connectors for any REST API: auth, pagination and incremental cursors. Every niche or internal source needs custom scripts or waits on our roadmap.
P write custom extraction scripts for every niche SaaS source | have an internal API nobody can pull data from without engineering | wait on our roadmap for each new connector
A a way to build their own connectors for any REST API | generic HTTP API ingestion with auth and pagination | a connector builder

# Databases
T Change data capture from PostgreSQL
D Log-based CDC from Postgres (logical replication) so updates and deletes arrive in near real time without heavy table scans. Timestamp-based syncs load the production database, miss deletes and lag behind.
P hammer their production Postgres with full-table scans every hour | miss deleted rows because syncs only look at timestamps | see data that lags hours behind their app database
A logical replication from their Postgres | log-based CDC for their production database | streaming of inserts, updates and deletes from Postgres

T MongoDB connector with nested document flattening
D Ingest MongoDB collections and flatten nested documents and arrays into queryable tables. Document data has to be exported and parsed manually before it can be queried.
P dump Mongo collections to JSON and parse them by hand | lose nested fields when they load documents | can't query embedded arrays from their app database
A a MongoDB source that handles nested documents | automatic flattening of embedded arrays | Mongo collections as tables

T On-premise Oracle database ingestion
D Sync from Oracle databases running on-premise via an agent, without opening inbound firewall ports. Core systems behind the firewall are out of reach today.
P keep their core system in an on-prem Oracle database we can't reach | have IT refusing inbound firewall rules | extract Oracle tables by hand to flat files
A an on-prem agent for Oracle | syncs from databases behind their firewall | Oracle as a source

T Incremental sync by cursor column for custom tables
D Let users pick an updated_at or ID column as the cursor so large custom tables sync incrementally. Large tables are fully reloaded every time, which takes hours.
P full-refresh a 500-million-row table every night | have syncs that run for hours on big tables | can't choose which column marks new rows
A a choice of replication key column | incremental loads for big tables | cursor-based syncs

T Zero-copy reads from Snowflake data shares
D Query data shared via Snowflake Secure Data Sharing directly, without copying it into the platform. Copying shared data duplicates storage cost and effort.
P duplicate terabytes of data that already sit in Snowflake | pay twice to store data they already have in Snowflake | can't use the data shares their vendors give them
A reads of Snowflake shares in place | direct queries on their Snowflake data with no copy | zero-copy access

# Files
T Google Sheets live sync
D Connect a Google Sheet as a source that refreshes automatically when the sheet changes. Spreadsheet-maintained data such as targets goes stale between manual uploads.
P keep targets and mappings in Google Sheets and re-upload them by hand | upload a new CSV every time finance edits the budget sheet | look at stale numbers because the spreadsheet upload is a week old
A spreadsheets as a live data source | automatic refresh from Google Sheets | a shared sheet pulled in on a schedule

T CSV and Excel upload with schema detection
D Upload CSV/XLSX files with automatic type detection, header mapping and append/replace modes. Recurring file uploads fail on types and need manual column mapping.
P have uploads fail because one column has a date in a weird format | re-map columns every time they upload the same file | can't append this month's file to last month's table
A smarter file uploads that detect types | an append mode for recurring CSV uploads | drag-and-drop Excel ingestion

T Cloud storage ingestion from S3 and GCS
D Load files landing in S3 or GCS buckets on a schedule, with glob patterns, compression and partitioned folders. Files dropped in buckets require custom scripts to be loaded.
P have vendors dropping files into S3 that nobody picks up automatically | write scripts to move bucket files into the warehouse | can't point at a folder of daily gzip files
A automatic pickup of files from an S3 prefix | bucket ingestion with file patterns | scheduled loads from cloud storage

T SFTP file ingestion
D Pull files from an SFTP server on a schedule, with key-based auth and archiving of processed files. Partner files delivered over SFTP are downloaded and re-uploaded by hand.
P have partners who only deliver data over SFTP | download files from SFTP and re-upload them manually | can't automate the nightly file from their bank
A scheduled SFTP pulls | an SFTP source with key auth | automatic pickup of files from a partner server

T Ingest reports from email attachments
D A unique inbox address per source: CSV or Excel attachments emailed to it are loaded automatically. Systems that can only send emailed reports require someone to load attachments manually.
P get daily vendor reports only as email attachments | have someone download attachments and upload them each morning | can't automate reports from legacy systems that can only send email
A an email address that loads attachments | email-to-table ingestion | automatic processing of emailed CSVs

T Nested JSON flattening on ingest
D Automatically flatten nested JSON objects and arrays from API sources into columns and child tables. API payloads land as opaque JSON blobs that are painful to query.
P get a single JSON blob column they can't query | write SQL to unpack arrays in every query | lose the line items nested inside orders
A automatic JSON flattening | arrays exploded into child tables | structured columns from nested payloads

# Streaming
T Kafka streaming ingestion
D Consume Kafka or Confluent topics continuously with schema registry support. Event data already in Kafka arrives late through batch workarounds.
P batch-load events that already live in Kafka | see product events a day late | maintain a custom consumer just to land topics
A native Kafka topic consumption | streaming ingest with schema registry | real-time event feeds from Confluent

T Inbound webhook endpoint for events
D A hosted HTTPS endpoint that accepts JSON events from other systems and appends them to a table. Tools that push events have nowhere to send them.
P have SaaS tools that can only push data via webhooks and nowhere to send it | stand up a small server just to receive callbacks | lose events because there's no receiving endpoint
A a URL that other tools can POST events to | a webhook receiver that writes to a table | push-based ingestion

T Event stream ingestion from Segment and RudderStack
D Receive events from Segment or RudderStack as a destination, with identify and track tables. CDP event data needs an extra warehouse hop before it can be analyzed.
P pay for a warehouse destination only to land Segment events | can't join track calls with account data | have RudderStack events stuck in S3
A support as a Segment destination | track and identify events landing directly | CDP event streams as a source

# Reliability
T Schema drift detection and auto-evolution
D Detect added, removed or retyped columns at the source and evolve destination tables automatically, with a notification. Source schema changes silently break syncs and dashboards.
P have syncs break whenever engineering adds a column | find out a field was renamed only when a dashboard goes blank | alter tables by hand after every source change
A automatic handling of new and renamed columns | alerts when the source schema changes | schema evolution without broken syncs

T Sync frequency down to 5 minutes
D Allow connector schedules as frequent as every 5 minutes for operational use cases. Hourly syncs are too slow for operational use cases.
P wait an hour for new orders to show up | find hourly syncs too slow for their support dashboard | want near-real-time syncs for operations
A five-minute sync schedules | more frequent connector syncs | sub-hourly syncs

T Historical backfill for connectors
D Re-sync historical data for a date range or from scratch without recreating the connector. Data lost in outages or from before a connector was set up cannot be reloaded.
P lost three months of data after a connector outage and can't reload it | only get data from the day they connected | recreate connectors to pull older history
A a re-sync of a specific date range | backfills of historical data | a reload of history without starting over

T Sync failure alerts and automatic retries
D Notify owners by email or Slack when a sync fails and retry transient failures automatically. Failed syncs go unnoticed until dashboards show missing data.
P find out a sync failed only when the exec dashboard shows zeros | check the connectors page by hand every morning | have syncs die on a timeout and stay dead all weekend
A notifications when a connector fails | automatic retries for flaky syncs | failure alerts routed to the data team

T Sync logs and row count monitoring
D Per-run logs with rows read, written and rejected, with history to spot drops in volume. Teams can't verify how much data each sync loaded or spot volume drops.
P can't tell how many rows each sync loaded | missed that yesterday's load was half the usual size | have no logs to send support when something looks wrong
A detailed per-run sync logs | row counts per sync over time | volume monitoring for connectors

T Data freshness indicators on tables
D Show when each table was last successfully updated, and flag tables that are older than expected. Users can't tell how current the numbers in front of them are.
P present numbers without knowing how old they are | get asked "is this today's data?" in every meeting | can't see at a glance which sources are stale
A a last-updated timestamp on every dataset | stale-data warnings | freshness badges on tables and dashboards

T Pause and resume connector syncs
D Temporarily pause a connector (e.g. during a source migration) and resume it without losing its state. Stopping a sync during maintenance currently means deleting the connector.
P delete a connector just to stop it during maintenance | can't stop syncs while they migrate their ERP | lose sync state whenever they disable a source
A a pause button on connectors | a way to stop syncs temporarily without deleting them | syncs that resume from where they left off

T Soft-delete handling in syncs
D Propagate deletes from the source as soft-deleted rows (a deleted flag) instead of leaving ghosts or dropping history. Records deleted at the source linger in reports or lose their history.
P still see deleted deals in their pipeline numbers | can't tell which records were removed at the source | lose history when rows are hard-deleted
A a deleted flag on rows removed upstream | delete propagation from sources | tombstones for removed records

T Deduplication of records on ingest
D Use primary keys to merge duplicate records on ingestion instead of appending repeats. Retries and repeated loads create duplicate rows that inflate metrics.
P see the same order twice after a retried sync | clean up duplicate rows by hand after loads | double-count revenue because of repeated loads
A upserts by primary key | duplicate-free loads | merge-on-key ingestion

# Privacy
T Exclude PII columns at ingestion
D Choose columns to exclude or hash during sync so sensitive fields never land in the platform. Sensitive personal data lands in the platform even when it is not allowed.
P pull in email addresses and phone numbers they're not allowed to store | have legal asking why SSNs are sitting in the warehouse | can't hash personal fields before they land
A column selection on every connector | hashing of sensitive fields during sync | a way to block PII from being ingested at all

# Networking
T SSH tunnel and PrivateLink connectivity for databases
D Connect to databases in private networks via SSH tunnels, AWS PrivateLink or static egress IPs. Databases in private networks cannot be reached without weakening security.
P can't expose their database to the public internet | have security refusing to allowlist broad IP ranges | need to reach a database inside a VPC
A PrivateLink support | connections through an SSH bastion | static IPs for database access
"""

REQUEST_CONCEPTS["transformations"] = """
# Marketing analytics
T Multi-touch attribution modeling
D Support for first-touch, last-touch, linear, time-decay and data-driven attribution models across all marketing channels. Essential for understanding true ROI of marketing spend.
P can't tell which campaigns actually sourced closed revenue | give all the credit to the last click and undervalue events and content | argue with sales every quarter about which channel gets credit
A first-touch vs last-touch vs linear credit by channel | time-decay and data-driven attribution | a way to split pipeline credit across every touchpoint

T Funnel modeling with custom steps
D Define funnels from any ordered events or stages with conversion windows and breakdowns. Conversion between custom stages is computed by hand, and drop-off points stay unclear.
P can't define a funnel from their own stage names | compute stage conversion rates in spreadsheets | don't know where leads drop off between MQL and SQL
A configurable conversion funnels | stage-to-stage conversion with time windows | custom funnel definitions

T Sessionization of event data
D Group raw events into sessions with configurable inactivity timeouts, for engagement metrics. Engagement metrics need complex custom SQL to group raw events into sessions.
P can't compute session length from raw clickstream | write complicated window-function SQL to group events into visits | disagree on what counts as a session
A automatic grouping of events into sessions | configurable session timeouts | session tables built from raw events

# Semantic layer
T Semantic layer with reusable metric definitions
D Define metrics like revenue, active users and churn once, centrally, and reuse them in every chart so the numbers agree. Teams define the same metric differently, so dashboards disagree and trust erodes.
P get three different revenue numbers from three teams | redefine "active customer" in every chart | lose trust because dashboards disagree with each other
A a single source of truth for metric definitions | centrally defined measures reused everywhere | governed metrics

T Metric certification badges
D Let data owners mark metrics and datasets as certified so users know which ones to trust. Users can't tell which metrics and datasets are official.
P can't tell which of five churn metrics is the official one | have business users building on unvetted tables | want to flag the trusted datasets
A a verified badge on trusted metrics | certified datasets | an endorsement flag for official content

T Reusable cohort definitions
D Save cohorts (e.g. "enterprise accounts onboarded in Q1") as reusable segments across charts and reports. Customer segments are rebuilt, slightly differently, in every chart.
P rebuild the same customer segment filter in every chart | have cohorts defined slightly differently by each analyst | can't share a segment with the CS team
A saved segments usable across reports | shareable cohort definitions | named customer groups

T Out-of-the-box SaaS metrics (MRR, churn, NRR)
D Prebuilt, correct definitions of MRR, ARR, churn, expansion and net revenue retention from billing data. Subscription metrics are hard to get right and are rebuilt by every customer.
P compute net revenue retention by hand each month | get MRR wrong because of mid-month upgrades | spend weeks on a metrics model every SaaS company needs
A standard subscription metrics built in | NRR and gross churn calculations | a prebuilt MRR model

# Modeling workflow
T Import dbt models and documentation
D Read dbt project metadata (models, descriptions, tests, exposures) so modeled tables and their docs appear in the platform. Model documentation is maintained twice and the origin of datasets is unclear.
P maintain descriptions twice, in dbt and in the BI tool | can't see which dbt model a dataset comes from | lose the context of their dbt tests in dashboards
A a sync of dbt docs and model metadata | dbt descriptions showing up on fields | support for reading their dbt manifest

T Git version control for data models
D Store model definitions in a Git repository with branches, pull requests and code review. Model changes have no review or history.
P have no review process before someone changes a core model | can't see what changed in a model last month | copy SQL into Git by hand
A models backed by a Git repo | pull-request reviews for model changes | branching and history for modeling code

T Development branches with preview for model changes
D Work on models in an isolated branch and preview the affected dashboards before merging to production. Model edits are tested in production and break downstream dashboards.
P test model changes directly in production | broke the CFO's dashboard while editing a model | can't preview how a change affects downstream charts
A an isolated dev mode for modeling | previews of dashboards against a branch | a sandbox before changes go live

T SQL editor autocomplete and formatting
D Autocomplete for tables, columns and functions, plus one-click formatting in the SQL editor. Writing SQL is slow and error-prone without editor assistance.
P type column names from memory | paste queries into another editor just to format them | keep making typos in long table names
A smarter SQL autocomplete | a format button in the editor | column suggestions while typing

T Reusable SQL snippets and macros
D Share parameterized SQL snippets (e.g. fiscal period logic) across models and queries. The same query logic is copied across many queries and maintained in many places.
P copy-paste the same CASE statement into dozens of queries | fix the same logic in ten places | can't share common SQL between analysts
A shared SQL snippets | macros with parameters | a library of reusable query logic

T Python transformations in pipelines
D Run Python steps (pandas) inside modeling pipelines for logic that is awkward in SQL. Logic that is awkward in SQL runs in separate scripts and notebooks.
P run a separate notebook to clean data before loading it back | can't do fuzzy matching or ML scoring in SQL | maintain cron jobs for their Python logic
A Python steps inside the pipeline | pandas transformations | scripts that run as part of modeling

T Visual no-code data preparation
D A drag-and-drop builder for joins, filters, aggregations and pivots for users who don't write SQL. Analysts who don't write SQL depend on the data team or prep data in Excel.
P have business analysts who can't write SQL waiting on the data team | do all their data prep in Excel | want to clean data without code
A a visual transformation builder | no-code joins and aggregations | point-and-click data prep

T Parameterized models
D Models that accept parameters (date window, region) supplied by dashboard filters or schedules. Teams maintain near-identical copies of models with hardcoded values.
P maintain five copies of the same model with different date windows | can't push a dashboard filter down into the model | hardcode the region in SQL
A models with variables | parameters passed from filters into SQL | templated models

# Calculations
T Calculated fields with window functions
D Support running totals, rank, lag/lead and moving averages in calculated fields without writing raw SQL. Running totals, ranks and moving averages require custom SQL.
P can't compute a running total without custom SQL | want a 7-day moving average on the chart | export data just to compute rank and percent of total
A running totals and moving averages | rank, lag and lead in calculations | window calculations in the field editor

T Fiscal calendar support
D Configure a custom fiscal year (e.g. starting in February, or 4-4-5 weeks) used by all date filters and groupings. Companies with non-calendar fiscal years can't report on their own periods.
P report by calendar quarter even though their fiscal year starts in February | map months to fiscal periods by hand | can't use a 4-4-5 retail calendar
A a configurable fiscal year | fiscal quarters in date filters | 4-4-5 calendar support

T Currency conversion with daily FX rates
D Convert amounts to a reporting currency using daily exchange rates, with a configurable rate date. Multi-currency revenue is summed incorrectly or converted by hand.
P sum euros and dollars together in revenue totals | update FX rates in a spreadsheet every month | can't report in both local currency and USD
A automatic conversion to a reporting currency | daily exchange rate tables | multi-currency reporting

T JSON and regex parsing functions
D Built-in functions to extract values from JSON columns and parse text with regular expressions. Values buried in JSON or text can't be extracted inside the platform.
P can't pull a field out of a JSON column | extract order codes from text with nested string functions | preprocess strings outside the platform
A JSON path extraction | regex extraction functions | better string parsing

T Geocoding of addresses
D Convert addresses or postal codes into latitude/longitude and regions during modeling. Location analysis needs coordinates that raw address data doesn't have.
P have addresses but no coordinates | pay for a separate geocoding service | can't group customers by region from raw addresses
A address to lat/long conversion | postal code enrichment | geocoding built into modeling

T Pivot and unpivot transformation steps
D Turn columns into rows and back in models, e.g. monthly columns from a spreadsheet into a long table. Wide, spreadsheet-shaped data must be reshaped outside the platform.
P get spreadsheets with one column per month that they can't chart | reshape data in Excel before loading it | write long UNION queries to unpivot
A unpivot for wide tables | a reshape step from columns into rows | pivot steps in modeling

# History
T Slowly changing dimension history (Type 2)
D Track historical values of dimension attributes (account owner, segment) with effective dates, so past reports stay correct. Historical reports change when attributes like owner or segment are updated.
P see last year's numbers change when an account gets reassigned | can't report on who owned an account at the time of the deal | lose history when a customer moves segment
A historical tracking of attribute changes | type-2 dimension tables | as-of-date reporting on reassignments

T Point-in-time metric snapshots
D Snapshot metric values on a schedule so reports can show what a number was on a past date. Past values of metrics can't be reproduced once the data changes.
P can't reproduce what a metric looked like at the start of the quarter | keep screenshots of last month's numbers | get questioned when restated numbers change
A scheduled snapshots of key metrics | as-of-date reporting on historical values | frozen month-end numbers

# Materialization
T Incremental model materialization
D Build large models incrementally, processing only new or changed rows instead of full rebuilds. Full rebuilds of large models are slow and expensive.
P rebuild a billion-row model every hour | pay a lot in warehouse credits for full refreshes | wait hours for models to finish
A incremental builds of big models | processing of only the new partitions | merge-based materialization

T Model run scheduling with dependencies
D Schedule model builds that respect dependencies, run in order, and trigger after upstream syncs finish. Models run before their inputs are ready, leaving dashboards half-refreshed.
P have models running before the source sync finishes | chain jobs with guessed time offsets | get half-refreshed dashboards in the morning
A dependency-aware model scheduling | model runs that start after ingestion completes | a DAG of model builds

T Materialized view refresh control
D Control when materialized views and cached models refresh (on schedule, after sync, on demand). Cached models refresh at the wrong moments and show stale data.
P see cached models refresh at random times | can't trigger a refresh right after month-end close | have stale materializations during the day
A on-demand refresh of materialized views | refresh schedules per model | rebuilds triggered when data lands

# Lineage and quality
T Column-level data lineage
D Trace any field from a dashboard back through models to the source column. Nobody can tell where a number on a dashboard comes from.
P can't tell where a number on a dashboard comes from | spend days tracing a field back to the source | don't know which source column feeds a metric
A lineage down to individual columns | a trace from a chart back to its source | a lineage graph

T Impact analysis before changing a model
D Before editing or deleting a model or column, list every downstream dashboard, report and alert that would break. Changes to models break downstream content nobody knew about.
P rename a column and break twenty dashboards they didn't know about | are afraid to clean up old models | find out about breakages from angry execs
A a list of what breaks before a change | downstream dependency warnings | safe deletion of unused models

T Data quality tests on models
D Define tests like not-null, unique, accepted values and freshness on model columns, and block or warn on failure. Bad data such as nulls and duplicates reaches reports before anyone notices.
P find nulls in key columns only after a report goes out | have duplicated IDs in models that inflate counts | can't enforce basic data quality checks on their models
A not-null and uniqueness checks on model columns | automated data tests on modeled tables | builds that fail when the data looks wrong

T Model documentation and data dictionary
D Descriptions for models and fields, searchable as a data dictionary for business users. Business users don't know what fields and metrics mean.
P ask the data team what a field means every time | have no glossary of their metrics | keep definitions in a Confluence page that's always stale
A field descriptions visible in the UI | a searchable data dictionary | documentation next to each model

# Entity modeling
T Cross-source joins
D Join tables from different connections (e.g. the warehouse and a Google Sheet) in one model. Data from different connections can't be combined without copying it first.
P can't join the CRM data with the targets spreadsheet | copy everything into one database first | have data spread across two warehouses
A blending of data from different sources | federated joins | joins across connections

T Identity resolution across sources
D Merge records that refer to the same customer across CRM, billing and product data into one profile. The same customer appears differently across systems, so there is no single view.
P can't link billing customers to their CRM accounts | see one customer as separate records in CRM, billing and product data | build a customer 360 by hand
A a unified customer profile across systems | record matching across CRM, billing and product | customer 360 identity stitching

T Fuzzy matching of company names
D Match and deduplicate company or contact names with typos and variants (Inc vs Incorporated). Name variants create duplicate customers and block joins.
P count "Acme Inc" and "ACME Incorporated" as two customers | clean duplicate company names in spreadsheets | can't join datasets without a shared key
A fuzzy deduplication of names | similarity-based matching | cleanup of near-duplicate records

T Account hierarchy roll-ups
D Model parent-child account hierarchies so metrics roll up from subsidiaries to the global parent. Metrics can't be rolled up from subsidiaries to the parent company.
P can't see total revenue across a customer's subsidiaries | report each subsidiary separately to the exec team | flatten hierarchies by hand in a spreadsheet
A roll-ups through parent and child accounts | ultimate-parent reporting | hierarchical account trees

# Finance
T Revenue recognition schedules
D Model ASC 606 style revenue recognition: spreading bookings over service periods for recognized vs deferred revenue. Recognized and deferred revenue are calculated in spreadsheets outside the system.
P recognize revenue in a spreadsheet outside the system | can't show deferred revenue by month | reconcile bookings to recognized revenue by hand
A recognized vs deferred revenue modeling | revenue schedules over contract periods | ASC 606 waterfalls

T Budget vs actuals modeling
D Load budgets and compare them to actuals by department and month, with variance calculations. Plan versus actual comparisons happen in Excel at every month-end.
P compare budget to actuals in Excel at every month-end | can't show variance by cost center | reconcile plan numbers by hand
A plan vs actual comparisons | variance analysis by department | budgets living next to actuals
"""

REQUEST_CONCEPTS["integrations"] = """
# CRM
T Reverse ETL write-back to Salesforce
D Push modeled fields (health scores, product usage) back into Salesforce account and contact records on a schedule. Insights stay in dashboards that sellers never open instead of in the CRM.
P have reps who live in Salesforce and never open dashboards | copy health scores into CRM fields by hand | can't show product usage on the account page
A scores written back into Salesforce fields | usage data synced onto CRM records | reverse ETL to the CRM

T HubSpot write-back of product usage
D Sync product usage and lifecycle signals into HubSpot company and contact properties for workflows. Marketing automation can't react to product usage.
P can't trigger HubSpot workflows from product usage | upload usage lists into HubSpot every week | have marketing emailing accounts that already churned
A product usage properties in HubSpot | segments synced into HubSpot lists | lifecycle stages pushed back to HubSpot

T Salesforce Lightning component for account metrics
D An embeddable Lightning component that shows the account's key metrics inside the Salesforce record page. Reps leave the CRM to look up account usage.
P make reps leave Salesforce to look up usage | can't see charts on the opportunity page | paste dashboard links into CRM notes
A charts inside the Salesforce account page | a Lightning component with account metrics | metrics embedded in the CRM layout

T Gainsight health score integration
D Send computed health scores and usage metrics to Gainsight for CS workflows. Customer success works from health scores that don't match our metrics.
P have CSMs looking at two different health scores | upload usage into Gainsight through CSV | can't drive CTAs from our metrics
A health scores flowing into Gainsight | a Gainsight sync | a CS platform integration

T Outreach and Salesloft sequence triggers
D Enroll contacts into Outreach or Salesloft sequences automatically when product signals fire (e.g. a trial usage spike). Product signals don't reach sales engagement tools, so hot leads are missed.
P have SDRs reading dashboards to decide who to call | miss hot trial users because nobody checks usage | upload call lists into Outreach by hand
A product signals that enroll people into sequences | a Salesloft integration | automatic pushes of hot leads to Outreach

# Messaging
T Slack alerts on metric thresholds
D Send a Slack message to a channel when a metric crosses a threshold or changes by a set percentage. Important metric changes go unnoticed until someone checks a dashboard.
P find out revenue dropped only at the weekly meeting | want the ops channel pinged when backlog goes over 100 | watch dashboards all day for changes
A threshold alerts posted into Slack | channel notifications when a metric moves | Slack pings on KPI changes

T Dashboard snapshots posted to Slack channels
D Post an image of a dashboard or chart to a Slack channel on a schedule, with a link back. Teams screenshot dashboards into chat by hand to share the daily numbers.
P screenshot the sales dashboard into Slack every Monday | have execs who only read Slack | want the daily numbers to appear in a channel automatically
A a daily chart image in a Slack channel | scheduled Slack posts of dashboards | snapshots delivered to Slack

T Microsoft Teams integration
D Alerts, scheduled snapshots and link unfurls in Microsoft Teams channels. Customers standardized on Microsoft can't use the chat integrations.
P are a Microsoft shop and can't use our Slack features | forward alert emails into Teams by hand | get nothing when they paste a dashboard link in Teams
A Teams notifications | dashboard previews in Teams | parity with the Slack integration for Teams

T Mobile push notifications for alerts
D Deliver metric alerts as push notifications in the mobile app. People away from their desks miss time-sensitive alerts.
P miss alerts because they're on the road | don't read email alerts on their phones | want their phone to buzz when a big deal slips
A push alerts on the phone | mobile notifications for thresholds | alerts in the mobile app

# Work management
T Create Jira tickets from charts and alerts
D Create a Jira issue from a chart or alert with a snapshot and link attached. Data problems are handed to engineering by hand and get lost.
P copy screenshots into Jira when they spot a data problem | lose track of which anomalies were handed to engineering | want alerts to open tickets automatically
A a one-click Jira issue from a chart | alert-to-ticket automation | a Jira integration with snapshots

T Asana and Monday.com task creation
D Turn insights or alerts into tasks in Asana or Monday.com with assignees. Follow-ups from metric reviews are tracked manually and slip.
P track follow-ups from dashboards in a separate project tool by hand | lose action items because nothing turns an insight into a task | can't assign an owner to a metric problem
A tasks created in Asana from an insight | Monday.com items from alerts | project tasks linked to charts

T PagerDuty integration for data incidents
D Route critical data alerts (failed syncs, broken models) to PagerDuty on-call rotations. Critical pipeline failures wait until someone notices them the next morning.
P rely on someone noticing a failed pipeline in the morning | want the on-call data engineer paged when the revenue model fails | have no incident routing for data issues
A paging of on-call for data failures | PagerDuty routing | incident alerts for broken pipelines

T ServiceNow integration for incidents
D Open and update ServiceNow incidents from alerts and failed pipeline runs. Data incidents bypass the IT ticketing process that enterprises require.
P have IT processes that require a ServiceNow ticket for every data incident | copy alert details into ServiceNow by hand | can't track data issues in their ITSM tool
A ServiceNow incidents from alerts | ITSM ticketing for data failures | a ServiceNow connector for alerts

# Embedding
T Embedded analytics SDK for customer-facing apps
D A JavaScript SDK and signed embed URLs to put dashboards inside the customer's own product, with per-tenant filters. Customers maintain their own charting to give their clients analytics.
P built their own charting for their customer portal and hate maintaining it | can't put our dashboards inside their app | need to show each of their clients only their own data
A a JS SDK for embedding dashboards | signed embed URLs with tenant filters | customer-facing analytics in their product

T White-label embedding without our branding
D Remove all vendor branding, logos and links from embedded dashboards, and apply the customer's theme. Our branding in embedded views confuses our customers' own clients.
P can't show their customers a dashboard with another company's logo on it | get asked by their clients what tool this is | need the embed to look like their own product
A fully unbranded embeds | white-labeling | removal of our logo from embedded views

T Notion and Confluence chart embeds
D Live chart embeds in Notion pages and Confluence docs that update with the data. Charts pasted into documentation go stale.
P paste static screenshots into Confluence that go stale | want live numbers inside Notion docs | update wiki charts by hand each month
A live embeds in Notion | a Confluence macro for charts | charts that stay current in docs

T SharePoint publishing of reports
D Publish reports and dashboards to SharePoint sites and Teams tabs. Reports are uploaded to the intranet manually every week.
P upload PDFs to SharePoint by hand every week | run their intranet on SharePoint with no way to show live charts | want reports published on the SharePoint intranet where employees already look
A publishing to SharePoint | SharePoint web parts with live charts | automatic uploads to SharePoint document libraries

# Developer
T REST API for managing dashboards programmatically
D Public API endpoints to create, update, copy and delete dashboards and charts. Creating and updating dashboards at scale is manual work.
P create 200 client dashboards by hand because there's no API for it | can't automate content deployment through code | want to script dashboard changes
A API endpoints to create and update dashboards | programmatic dashboard management | an API for dashboard CRUD

T Headless metrics query API
D An API to query governed metrics with filters and get JSON back, for use in other apps. Metric logic is re-implemented in other applications.
P re-implement metric logic in their own app | can't reuse our metric definitions outside dashboards | scrape numbers out of exported CSVs
A metric queries over an API | JSON access to the semantic layer | headless BI endpoints

T Outbound webhooks on data events
D Fire webhooks to external URLs when alerts trigger, syncs complete or reports are delivered. External systems can't react to events without polling.
P poll our API to know when a sync is done | can't kick off their own workflows when an alert fires | want other systems notified of events
A webhooks when jobs finish | event callbacks to their endpoints | outbound notifications for automation

T Zapier integration
D Zapier triggers and actions for alerts, new rows and report deliveries. Non-technical teams can't connect alerts to the rest of their tools.
P can't connect alerts to the hundreds of tools they use | have ops people without engineers to build integrations | want no-code automation
A Zapier triggers | a Zapier app | no-code automation hooks

T Microsoft Power Automate connector
D A Power Automate connector with triggers for alerts and report deliveries, and actions to refresh data. Microsoft-centric automation can't use our events.
P build all their workflows in Microsoft Power Automate | can't kick off a Microsoft flow when something changes in our platform | want their Power Automate flows to refresh our data
A a Power Automate connector | Microsoft flow triggers and actions for our platform | Power Automate support for their Microsoft workflows

T Terraform provider for workspace configuration
D Manage connections, users, groups and permissions as code with a Terraform provider. Workspace configuration is clicked together by hand and drifts between environments.
P click through the UI to configure every new workspace | can't review permission changes in code | have drift between their environments
A infrastructure-as-code support | a Terraform provider | config as code for workspaces

T Python SDK and client library
D An official Python client for the API to query data, manage content and automate admin tasks. Scripting against the API means hand-written HTTP calls.
P write raw HTTP calls against our API | have data scientists who want results in pandas | maintain an unofficial wrapper
A an official Python package | a pandas-friendly client | SDK support for scripting

T Jupyter notebook integration
D Query governed datasets from Jupyter and publish notebook outputs as charts. Data scientists work from CSV exports and duplicate metric logic.
P pull data into notebooks through CSV exports | can't share notebook charts with business users | duplicate metric logic in notebooks
A notebook access to their datasets | a Jupyter extension | publishing of notebook results to dashboards

# Orchestration
T Airflow operator to trigger refreshes
D An Airflow operator and sensor to trigger syncs, model builds and dashboard refreshes from existing DAGs. Refreshes are timed with guesses instead of being orchestrated.
P guess at cron times so refreshes happen after their Airflow jobs | can't orchestrate our syncs from their DAGs | want refreshes triggered when upstream loads finish
A an Airflow operator | refreshes triggered from their orchestrator | DAG integration

T Trigger dbt Cloud jobs after syncs
D Kick off a dbt Cloud job automatically when a connector finishes syncing. dbt runs are scheduled blindly and sometimes run on partial data.
P schedule dbt runs an hour after syncs and hope they're done | have dbt models running on partial data | want dbt to start as soon as data lands
A automatic dbt Cloud runs after ingestion | chained syncs and dbt jobs | a dbt Cloud trigger

T GitHub integration for pull-request workflows
D Open pull requests for model and dashboard changes in GitHub and show CI checks. Analytics changes skip the code review and CI practices engineers expect.
P want changes reviewed in GitHub like their app code | can't run CI checks on analytics changes | have no record of who approved a change
A GitHub pull requests for changes | CI checks on analytics code | a GitHub-based review flow

# Spreadsheets and BI
T JDBC and ODBC endpoint for BI tools
D Expose governed datasets via a SQL endpoint (JDBC/ODBC) so Excel, Tableau or Power BI can connect. Teams on Excel, Tableau or Power BI can't reach the governed data.
P have finance teams that insist on using Excel and Power BI | can't point Tableau at our modeled data | export CSVs to feed other BI tools
A a SQL endpoint for other tools | ODBC access for Excel | connectivity for Tableau and Power BI

T Google Sheets add-on for pulling metrics
D A Sheets add-on that pulls governed metrics and datasets into spreadsheets, with refresh. Planning spreadsheets are fed by copy and paste.
P copy numbers from dashboards into their planning spreadsheet | have finance models in Sheets that need live data | paste exports into tabs every week
A a Sheets add-on | refreshable data inside Google Sheets | metrics pulled into spreadsheets

T Excel add-in
D An Excel add-in to query metrics and refresh tables inside workbooks. Workbooks go stale because data is re-pasted manually.
P live in Excel and re-paste exports constantly | have board models in Excel that go stale | want one-click refresh inside their workbook
A an Excel plug-in | live data in workbooks | refreshable Excel tables

# Activation
T Audience sync to ad platforms
D Send customer segments as audiences to Google Ads, Meta and LinkedIn for targeting. Ad targeting relies on manual list uploads that quickly go stale.
P upload customer lists to ad platforms by hand | can't target accounts that match a segment | have stale audiences in LinkedIn
A segments sent to ad platforms | audience syncs to LinkedIn and Meta | activation of cohorts

T Zendesk and Intercom sidebar app
D Show a customer's key metrics and health inside Zendesk or Intercom when an agent opens a ticket. Support agents lack account context while answering tickets.
P make support agents look up account data in another tab | can't see the plan and usage while answering tickets | want health context in the helpdesk
A customer context inside the ticket view | a helpdesk sidebar app | account metrics in Intercom

T Chrome extension for quick metric lookup
D A browser extension to search metrics and see a chart preview from any page. Checking a single number means opening a full dashboard.
P open five tabs to check one number | want quick access to KPIs while in other tools | can't look up a metric without loading a full dashboard
A a browser extension | quick metric search from anywhere | KPI lookups from the toolbar

# Platform
T Snowflake Native App deployment
D Run the product as a Snowflake Native App inside the customer's Snowflake account so data never leaves it. Security policies forbid data from leaving the customer's Snowflake account.
P have security that won't let data leave their Snowflake account | want to buy through their Snowflake commitment | can't send data to a third-party SaaS
A a version that runs inside their Snowflake account | a Snowflake Native App | a deployment where data never leaves their warehouse

T Datadog metrics export for monitoring
D Export platform health metrics (sync durations, query latency, failures) to Datadog. Our platform's health is invisible in customers' monitoring stacks.
P can't see our platform's health in their observability stack | want sync latency on their Datadog dashboards | monitor us separately from everything else
A metrics exported to Datadog | an observability integration | pipeline health in their monitoring tool
"""

REQUEST_CONCEPTS["reporting"] = """
# Scheduled delivery
T Scheduled PDF exports of dashboards
D Email a PDF of any dashboard on a daily, weekly or monthly schedule to a list of recipients, with the current filters applied. Stakeholders who never log in currently get their numbers as manual screenshots.
P screenshot dashboards into an email every Monday morning | have execs who won't log in and only read attachments | print dashboards to PDF by hand before board meetings
A a weekly PDF of the dashboard in their inbox | recurring PDF snapshots by email | automated PDF delivery

T Scheduled CSV exports to S3
D Deliver the results of a query or chart as CSV files into an S3 bucket on a schedule, for downstream systems. Downstream systems that read files from a bucket are fed by hand.
P have a downstream system that reads files from a bucket and nothing to feed it | download CSVs and upload them to S3 by hand | run a script against our API just to land a file in S3
A recurring CSV drops into their bucket | automated exports to S3 | scheduled file delivery to cloud storage

T Scheduled exports to Google Drive
D Save scheduled exports (CSV, XLSX, PDF) into a Google Drive folder automatically. Report files are saved into shared folders manually.
P download reports and drag them into Drive folders every week | share files through Drive with no automated way to fill it | lose track of the latest version of the report
A exports landing in a shared Drive folder | automatic Google Drive delivery | scheduled saves to Drive

T SFTP delivery of scheduled reports
D Push scheduled exports to a customer or partner SFTP server. Partners that accept files only over SFTP are served manually.
P have partners who only accept files over SFTP | upload report files to SFTP by hand each night | can't automate their regulatory file drop
A automated SFTP pushes of reports | report delivery to an SFTP server | scheduled file transfer to partners

T Per-recipient filtered report bursting
D Send one scheduled report to many recipients, each receiving only their own region, team or account's data. Sending each person their own slice requires dozens of report copies.
P build 60 copies of the same report, one per branch manager | can't send each rep just their own numbers | have managers seeing other regions' data in email reports
A one schedule that sends each person their own slice | report bursting by region | personalized report emails

T Custom report schedules (business days, cron)
D Flexible scheduling: business days only, first Monday of the month, specific hours, or a cron expression. Fixed schedules deliver reports at the wrong times.
P get reports on weekends that nobody reads | can't send a report on the first business day of the month | want a delivery at 6am before the standup
A cron-style schedules | business-day-only delivery | more granular scheduling options

T Conditional report delivery
D Only send a scheduled report when a condition is met (e.g. a metric is below target or the result is not empty). Recipients are flooded with empty or irrelevant scheduled reports.
P get empty reports every morning | ignore daily emails because they're usually irrelevant | want the report only when something's wrong
A reports sent only when a condition is met | a skip for empty results | threshold-based delivery

T Retry and alerting for failed report deliveries
D Retry failed scheduled deliveries and notify the owner if a report could not be sent. Failed deliveries go unnoticed until a recipient complains.
P don't know when the board report silently failed to send | have recipients asking where their report is | resend failed schedules by hand
A automatic resends of failed schedules | delivery failure notifications | a log of missed deliveries

T Per-recipient timezone for scheduled reports
D Deliver scheduled reports at the local time of each recipient. Global teams receive scheduled reports at inconvenient local times.
P get the 8am report at 2am in Singapore | schedule separate copies for each region | have APAC teams receiving yesterday's numbers late
A delivery at each recipient's local time | timezone-aware schedules | regional send times

T Inline email reports with chart images
D Render charts as images in the body of the email instead of only as attachments. Recipients ignore attachments, especially on phones.
P have execs who only read what's visible in the email body | read reports on phones where PDFs are painful | want the numbers visible right in the email
A charts rendered in the email body | inline report previews in emails | report emails with no attachment to open

T Send reports to external recipients
D Allow scheduled reports to be sent to email addresses outside the organization, with admin controls. Clients and board members without accounts can't receive reports.
P can't email reports to their clients | forward reports by hand to partners | need to include board members who aren't users
A delivery to external email addresses | client-facing report emails | non-users as recipients

# Export formats
T Excel export with formatting preserved
D Export tables and pivots to XLSX keeping number formats, colors, subtotals and multiple sheets. Exports lose formatting and structure and must be fixed in Excel.
P reformat every export in Excel before sending it on | lose currency formatting in exports | get one flat sheet instead of the pivot they see
A XLSX exports that keep formatting | multi-tab Excel files | pivot layouts in exports

T PowerPoint export of dashboards
D Export dashboards to editable PowerPoint slides, one chart per slide. Slide decks are assembled from screenshots for every review.
P copy charts into slides for every QBR | spend hours building the monthly deck | get blurry screenshots in presentations
A dashboards as PowerPoint decks | editable slides from charts | PPTX export

T Export more than one million rows
D Raise the export row limit so full datasets can be downloaded as CSV. Large datasets are truncated or have to be exported in pieces.
P hit the export row limit and split exports by date | can't download the full transaction list for audit | get truncated CSVs without warning
A much larger CSV exports | full dataset downloads | exports past the row cap

T Background export jobs with notification
D Run large exports asynchronously and email a download link when ready, instead of timing out in the browser. Big exports time out in the browser.
P watch the browser spin until the export times out | can't leave the page while a big export runs | retry large downloads several times
A async exports with a download link | exports that finish in the background | an email when the file is ready

T Export chart images as PNG and SVG
D Download any chart as a high-resolution PNG or vector SVG for documents and slides. Charts for documents are captured as low-quality screenshots.
P take screenshots to get a chart into a document | get pixelated images in printed reports | want vector graphics for the annual report
A high-res chart downloads | SVG exports of visuals | image export per chart

T Export data behind a chart
D Download the underlying rows that make up a chart or a specific data point. Getting the records behind a chart requires rebuilding the query.
P can see the chart but can't get the rows behind it | rebuild the query in SQL to get the detail | need the data behind a bar for reconciliation
A a download of the rows behind a visual | export of a data point's records | raw data download from charts

T Parquet exports for data science
D Export datasets in Parquet format for efficient use in Python and Spark. CSV exports lose types and are inefficient for data science work.
P convert huge CSVs to Parquet themselves | lose types when exporting to CSV | have data scientists asking for columnar files
A Parquet as an export format | columnar downloads | typed exports for notebooks

T CSV encoding and delimiter options
D Choose encoding (UTF-8 with BOM), delimiter (comma, semicolon, tab) and quoting for CSV exports. Exports break in Excel and in European systems because of encoding and delimiters.
P open exports in Excel and see garbled accented characters | need semicolon-separated files for European systems | fix quoting problems before importing files elsewhere
A a UTF-8 BOM option | semicolon delimiters | configurable CSV formats

T Interactive HTML export of dashboards
D Export a dashboard as a self-contained HTML file that keeps tooltips and filters, viewable offline. Shared copies of dashboards lose all interactivity.
P send static files that lose all the hover and filter interactivity | have clients who can't log in but want to hover and filter | need an offline copy of a dashboard that still works
A standalone interactive HTML files | an offline, clickable copy of a dashboard | an HTML export that keeps filters working

T Exports that keep applied filters
D Exports and schedules use the filters currently applied, and print them in the export header. Exports don't reflect what the user is looking at.
P export a filtered dashboard and get unfiltered data | can't tell which filters a PDF was produced with | sent the wrong slice of data to a client
A exports that respect the current filter state | filter values shown on exports | what-you-see-is-what-you-export behaviour

T Exports that respect row-level security
D Make sure exported files and scheduled reports enforce the same row-level permissions as the dashboard. Scheduled reports and downloads could expose data a recipient shouldn't see.
P worry that a scheduled report leaks other regions' data | had an export include rows a user shouldn't see | can't use schedules because security won't sign off
A exports that apply data permissions | secure scheduled reports | row-level rules enforced on every download

# Layout
T Pixel-perfect paginated reports
D Paginated, print-ready reports with page breaks, repeating headers and precise layouts, for invoices and statements. Print-ready documents such as statements need a separate reporting tool.
P build printable statements in a legacy reporting tool | get charts cut in half across PDF pages | can't control page breaks in printed reports
A print-ready paginated report layouts | page-by-page report designs for statements and invoices | precise control over page breaks

T PDF page size and orientation options
D Choose A4/Letter/A3, landscape or portrait, and margins for PDF exports. Wide dashboards are cut off in PDFs.
P get wide tables cut off in portrait PDFs | need A4 for their European offices | print big dashboards on A3
A landscape PDFs | page size options | margin and orientation settings

T Branded report headers and footers
D Add logo, title, confidentiality notice and page numbers to exported reports. Exported reports look unprofessional for clients and boards.
P add their logo to every PDF in Acrobat | can't brand client reports | need page numbers and a confidentiality line on board material
A logos and headers on exports | custom footers with page numbers | branded PDF templates

T Watermarks on confidential exports
D Stamp exports with a watermark showing the viewer's name and time, to deter leaks. Leaked exports can't be traced back to their source.
P worry about board decks being forwarded | have legal asking for traceability of exported files | can't mark exports as confidential
A watermarks with the user's name on exports | confidential stamps | traceable PDFs

T Password-protected PDF exports
D Encrypt exported PDFs with a password, for emailing sensitive reports. Sensitive reports can't be emailed securely.
P zip and password-protect reports by hand | can't send compensation reports by email | have security blocking unencrypted attachments
A encrypted PDFs | password protection on attachments | secure report files

T Data-as-of timestamps and footnotes on exports
D Show the data refresh time, filters and footnotes on every export so readers know what they're looking at. Readers of exported reports don't know how current or how defined the numbers are.
P get questions about how current a PDF's numbers are | add footnotes to reports by hand | have numbers misread because the definitions aren't on the page
A an as-of timestamp on every export | footnotes on reports | definitions printed with the data

T Financial statement layouts
D Report layouts for P&L and balance sheets with indented line items, subtotals and custom row ordering. Finance builds P&L layouts outside the product.
P build their P&L in Excel because the table can't indent line items | can't control the order of rows in financial statements | need subtotal lines like gross margin and EBITDA
A income statement formatting | custom row order with subtotal lines | P&L style tables

# Report packs
T Board reporting packs combining multiple dashboards
D Assemble several dashboards and pages into one ordered report pack, exported and scheduled together. Monthly board material is stitched together from several exports.
P stitch five PDFs together for the monthly board pack | send exec stakeholders six separate emails | rebuild the board book every month
A one pack with multiple dashboards | combined monthly report books | a single document built from several dashboards

T QBR report generator for customer success
D Generate a per-customer QBR report (usage, outcomes, support) from a template for CSMs. Business review decks take CSMs hours to build for each customer.
P spend a day per customer building QBR decks | pull usage numbers from three places for every review | have inconsistent QBRs across the CS team
A templated QBR packs per customer | automated business review reports | one-click customer review decks

T Client report templates for agencies
D Reusable report templates that agencies can apply to each client with that client's data and branding. Agencies rebuild the same report for every client.
P rebuild the same monthly report for 40 clients | can't switch a report over to another client's data | copy and rebrand reports by hand
A templates reused across clients | white-label client reports | per-client report cloning

T Narrative commentary sections in scheduled reports
D Let report owners add written commentary to each scheduled edition before it goes out. Scheduled reports arrive without the context that explains the numbers.
P send numbers without the story behind them | write commentary in a separate email | want the analyst's notes to ship with the report
A commentary blocks in scheduled reports | an editable narrative for each edition | analyst notes inside reports

# Operations
T Report delivery audit log
D A log of every report delivery (recipients, time, format and status) for compliance. There is no proof of who received which report.
P can't prove which recipients a scheduled report was delivered to | have auditors asking who was sent the payroll report last quarter | don't know whether a scheduled email actually reached the recipient
A a delivery log for every report schedule | a record of who received each report and when | proof of delivery for scheduled reports

T API to trigger report exports
D API endpoints to render and fetch a report or dashboard export on demand. Reports can't be generated from other applications or pipelines.
P can't generate a report from their own app | have engineers scraping the UI for PDFs | want reports generated at the end of their pipeline
A an export API | on-demand report rendering via API | programmatic PDF generation

T Bulk export of all dashboards for backup
D Export all dashboard and chart definitions for backup or migration, and import them back. Content can't be backed up or migrated.
P have no backup of their content | can't move content between instances | worry about losing years of dashboards
A a full content backup | export and import of dashboard definitions | a migration bundle
"""

REQUEST_CONCEPTS["access-management"] = """
# Identity
T SAML single sign-on
D SAML 2.0 SSO with Okta and other identity providers, including enforced SSO-only login for the workspace. Security teams require all logins to go through the corporate identity provider.
P have security requiring every app to go through Okta | manage separate passwords that fail their audit | can't enforce SSO, so people still log in with email and password
A Okta SSO | SAML login enforced for everyone | single sign-on through their identity provider

T SCIM user provisioning
D Automatically create, update and deactivate users from the identity provider via SCIM. Joiners and leavers are handled by hand, so former employees keep access.
P have ex-employees with active accounts weeks after leaving | create every new user by hand | can't deprovision users when someone leaves
A automatic provisioning and deprovisioning | SCIM support | user lifecycle managed from their IdP

T Azure AD group sync
D Sync Microsoft Entra ID (Azure AD) groups and map them to roles and teams. Role assignments duplicate groups that already exist in Microsoft's directory.
P maintain groups twice, in Azure AD and in our app | assign roles person by person | can't reuse their Entra security groups
A Entra ID group mapping | Azure AD groups synced to roles | group-based access from Microsoft

T Google Workspace login with group mapping
D Sign in with Google Workspace and map Google groups to roles. Google-based companies manage logins and permissions separately.
P use Google for everything and want the same login | assign permissions by hand even though their groups exist in Google | can't restrict login to their domain
A Google sign-in for their domain | Google group role mapping | Workspace-based login

T Just-in-time user provisioning via SSO
D Create accounts automatically on first SSO login, with a default role based on IdP attributes. New users can't get in until an admin invites them.
P wait for an admin to invite them before they can log in | have new hires blocked on day one | want accounts created on first login
A auto-created users at first login | JIT provisioning | default roles from SSO attributes

T Multi-factor authentication enforcement
D Require MFA for all users or specific roles, with TOTP and WebAuthn. Password-only logins fail security audits.
P have auditors flagging that MFA isn't enforced | can't require a second factor for admins | use password-only login for non-SSO users
A mandatory 2FA | MFA enforcement for admins | hardware key support

T Domain capture for automatic workspace joining
D Anyone signing up with the company email domain joins the company workspace instead of creating a separate one. Employees create scattered shadow workspaces.
P discovered ten shadow workspaces created by different teams | have employees signing up on their own | can't consolidate accounts under one org
A auto-join by email domain | domain verification and capture | consolidation of signups into one org

# Permissions
T Row-level security based on user attributes
D Restrict which rows a user sees based on attributes like region, team or account ownership, enforced on every query. Keeping users to their own data means duplicating dashboards per audience.
P build a separate dashboard for each region to keep data apart | can't let reps see only their own accounts | worry that managers see other teams' numbers
A data filtered per user automatically | row-level permissions tied to attributes | a setup where each user sees only their rows

T Region-based data access policies
D Policies that restrict access to data by geography, e.g. EMEA staff only see EMEA customers, to satisfy works-council and privacy rules. Regulations require regional data segregation that can't be expressed today.
P have works councils demanding that EMEA employees only see EMEA data | can't keep APAC numbers away from the US team | need geography-based restrictions for privacy law
A access rules by region | geo-based data policies | regional data segregation

T Column-level masking of PII
D Mask or hide sensitive columns (email, salary, SSN) for roles without permission, while keeping the rest of the table usable. Tables with one sensitive column can't be shared safely.
P can't share a table because one column has salaries in it | build separate views without personal data | show customer emails to everyone who opens the dataset
A masking of sensitive fields by role | column-level permissions | PII hidden from most users

T Custom roles with granular permissions
D Define custom roles beyond admin/editor/viewer with per-capability permissions. Built-in roles are too coarse, so people end up with too much access.
P give people admin just so they can do one thing | can't create a role that edits dashboards but not connections | have three roles that don't fit their org
A custom roles | fine-grained permissions | roles beyond admin, editor and viewer

T Disable downloads and exports for specific roles
D Prevent some roles from downloading data, exporting files or copying data out. Data can leave the platform through exports even when users should only view it.
P have contractors who must see dashboards but never download data | can't stop viewers from exporting the customer list | need view-only access without export rights
A a per-role switch to turn off exports | view-only access with no downloads | download restrictions

T Folder-level permissions with inheritance
D Set permissions on folders that apply to every dashboard inside, with inheritance to subfolders. Permissions are managed dashboard by dashboard and mistakes expose content.
P set permissions on every dashboard in a folder one at a time | have new dashboards in the finance folder visible to everyone by accident | can't lock down a whole folder and its subfolders
A permissions on folders that the dashboards inside inherit | folder-based access control | inherited permissions for subfolders

T Group-based dashboard sharing
D Share dashboards with user groups instead of individuals, staying in sync as membership changes. Sharing with individuals doesn't scale and goes stale as teams change.
P share each dashboard with 50 people one by one | forget to add new team members to dashboards | re-share everything when people change teams
A sharing with a group | team-based access to dashboards | group permissions

T Guest access for external users
D Invite external guests (agencies, clients) with restricted permissions and automatic expiry. External collaborators get either too much access or none.
P can't give their agency limited access | create full accounts for consultants | forget to remove partners after a project
A restricted guest accounts | external collaborator access | time-limited guest users

T Access requests and approval workflow
D Users can request access to a dashboard or dataset; owners approve or deny in-app. Getting access to content relies on chasing admins.
P email admins every time they need access to a dashboard | don't know who owns a dataset to ask for access | have access requests lost in Slack
A a request-access button | approval flows for access | owners approving access in the app

T Temporary time-bound access grants
D Grant access that expires automatically after a set period. Temporary access is forgotten and stays open.
P forget to revoke access after an audit or project ends | give auditors access and leave it open for months | need access that expires on its own
A access with an expiry date | temporary permissions | auto-revoking grants

T Workspace admin delegation
D Let central admins delegate administration of individual workspaces or teams to local admins. A single central admin becomes a bottleneck.
P route every user change through one central admin | can't let regional leads manage their own users | give too many people full admin
A scoped admins per workspace | delegated administration | local admin rights

T Approval before publishing dashboards
D Require review and approval before a dashboard is published to a wide audience. Unreviewed numbers reach large audiences.
P have unreviewed dashboards going out to the whole company | want a check before numbers reach execs | had a wrong dashboard published to the sales team
A a publish approval step | review before broad sharing | draft and published states with sign-off

T Separate dev and prod workspaces with promotion
D Maintain development and production workspaces with a controlled promotion process. Content changes go live without a controlled release.
P edit production dashboards live | have no controlled release process for content | need a staging environment for changes
A dev and prod environments | promotion of content between workspaces | a release process for content

T Multi-tenant isolation for embedded users
D Guarantee that embedded users from one of the customer's tenants never see another tenant's data, with per-tenant roles. Customers embedding analytics fear exposing one client's data to another.
P worry that one of their clients could see another client's data | maintain a separate workspace per client | need strict tenant separation for their SaaS app
A tenant isolation for embedded analytics | per-client data separation | multi-tenant permissions

# Audit
T Audit log of user actions with export
D Record logins, views, edits, shares and exports with who, what and when, searchable and exportable. Compliance teams can't see who did what in the platform.
P can't answer who changed a dashboard or exported data | have auditors requesting an activity trail | need a log for their SOX controls
A a full activity audit trail | exportable audit logs | a searchable history of user actions

T Audit log streaming to SIEM
D Stream audit events to Splunk, Datadog or another SIEM in near real time. Security teams can't monitor platform activity in their central tools.
P have a SOC that needs all app logs in Splunk | download audit logs by hand for security review | can't alert on suspicious activity
A audit events streamed to Splunk | a SIEM integration | real-time log forwarding

T Permission report showing who can see what
D A report of every user's effective access to dashboards and datasets. Access reviews take days because effective permissions are invisible.
P can't tell who has access to the payroll dashboard | spend days on quarterly access reviews | have no overview of effective permissions
A an access review report | effective permissions per user | a who-can-see-what view

T Login history and suspicious login alerts
D Show per-user login history and alert on unusual logins (new country, many failures). Compromised accounts go unnoticed.
P can't see when and where a user logged in | want to know about logins from unusual countries | had a compromised account they noticed too late
A login history per user | alerts for suspicious sign-ins | failed login monitoring

# Security
T IP allowlisting
D Restrict access to the workspace to approved IP ranges. Access from untrusted networks can't be blocked.
P have security requiring access only from the corporate network | can't block logins from outside the VPN | need the app restricted to office IPs
A IP range restrictions | an allowlist for their network | a block on access from outside the VPN

T Session timeout configuration
D Configure idle and absolute session timeouts per workspace. Long-lived sessions violate security policies.
P stay logged in for weeks, which fails their policy | need sessions to expire after 15 minutes idle | can't set the session length
A configurable idle timeouts | shorter sessions | session policies

T Scoped service accounts and API tokens
D Service accounts not tied to a person, with API tokens limited to specific scopes. Integrations run on personal, over-privileged credentials.
P run integrations on the personal token of someone who might leave | give scripts full admin tokens | can't limit what an API key can do
A non-human service accounts | API tokens with limited scopes | least-privilege keys for integrations

T API token expiry and rotation
D Set expiry dates on API tokens and rotate them without downtime. Long-lived keys fail audits and are hard to replace.
P have tokens that never expire | can't rotate keys without breaking pipelines | fail audits because of long-lived credentials
A expiring API keys | zero-downtime key rotation | token lifetime policies

T Bring your own encryption key (BYOK)
D Encrypt customer data at rest with a key managed in the customer's own KMS, revocable by them. Regulated customers need control over the keys protecting their data.
P have security requiring encryption with their own keys | need to be able to revoke access to data on their side | can't pass the bank's vendor review without customer-managed keys
A customer-managed encryption keys | BYOK with AWS KMS | their own keys for data at rest

T Secrets manager integration for credentials
D Read database and API credentials from HashiCorp Vault, AWS Secrets Manager or Azure Key Vault instead of storing them in the app. Credentials stored in the app conflict with security policy.
P paste database passwords into the UI against their policy | rotate credentials in five places | need credentials to come from Vault
A credentials read from Vault | AWS Secrets Manager support | no stored passwords

T Ownership transfer when deprovisioning users
D When a user is removed, transfer their dashboards, schedules and connections to another owner instead of breaking them. Content breaks or disappears when its owner leaves.
P had reports stop when the person who created them left | can't delete a leaver without losing their content | reassign content by hand
A transfer of content from leavers | bulk reassignment of ownership | handling for orphaned content

T Data classification tags
D Tag datasets and columns as PII, confidential or public, and drive policies from the tags. Sensitive data isn't labeled, so policies can't be applied consistently.
P can't find which tables contain personal data | apply masking rules table by table | need sensitivity labels for their data governance program
A sensitivity labels on columns | PII tagging | policies driven by classification

T Break-glass emergency admin access
D A controlled emergency admin login that works when SSO is down, fully audited. An identity provider outage locks everyone out.
P got locked out when their IdP had an outage | have no fallback admin when SSO breaks | need an audited emergency account
A an emergency admin account | a fallback login when SSO is down | break-glass access with audit

# Compliance
T EU data residency
D Host and process all customer data exclusively in EU data centers. EU customers can't store personal data outside the EU.
P are not allowed to store customer data outside the EU | have a DPO blocking the deal over US hosting | need a guarantee the data never leaves Frankfurt
A EU-only hosting | an EU region | data residency guarantees

T HIPAA compliance with BAA
D Support storing protected health information under a signed Business Associate Agreement, with the required controls. Healthcare customers can't bring patient data without HIPAA guarantees.
P can't load patient data without a BAA | have compliance blocking the project over PHI | need HIPAA safeguards to expand to their clinics
A a signed BAA | HIPAA-eligible workspaces | a legal way to handle PHI
"""

REQUEST_CONCEPTS["performance"] = """
# Speed
T Faster dashboard load times
D Dashboards with many charts should load in a few seconds even on large datasets; today some take over a minute. Slow dashboards frustrate users and hurt adoption.
P wait over a minute for the exec dashboard to open | have users giving up because the page keeps spinning | complain that it was faster in their old tool
A dashboards that open in seconds | much faster page loads | big speed improvements on heavy dashboards

T Query result caching with configurable TTL
D Cache query results with a per-dataset time-to-live so repeated views don't hit the warehouse. The same expensive queries hit the warehouse again and again.
P rerun the same expensive query every time someone opens the page | see the warehouse spike when many people open the same dashboard | want results cached for an hour
A result caching with a TTL they control | cached queries per dataset | reuse of results across viewers

T Cache warming before business hours
D Pre-run the queries behind key dashboards after the nightly load so the first viewer in the morning gets a fast page. The first viewers each morning wait for cold queries.
P have the first person each morning wait ages for the dashboard | see slow loads at 9am when everyone logs in | want caches filled overnight
A pre-warmed caches in the morning | a scheduled cache refresh after loads | key dashboards pre-computed overnight

T Pre-aggregated rollup tables
D Automatically build and use aggregate tables for common groupings to speed up queries on huge fact tables. Simple totals scan enormous tables.
P query billions of rows for a simple monthly total | build summary tables by hand to get speed | have queries that scan everything
A automatic aggregate tables | rollups for common queries | aggregate awareness

T Incremental dashboard rendering
D Render each chart as soon as its query returns, instead of waiting for the slowest one. One slow query holds back the whole page.
P stare at a blank page until the slowest chart finishes | can't see the fast charts while one query runs | think the dashboard is broken while it loads
A charts that render one by one as their queries finish | progressive loading of dashboard tiles | a page that doesn't block on the slowest query

T Exploring tables with 100M+ rows
D The explore view should handle very large tables interactively, with sampling and smart limits. Very large tables can't be explored interactively.
P time out exploring their events table | can't browse their largest fact table at all | have explorations crash on big datasets
A an explore view that scales to billions of rows | sampling for huge tables | interactive browsing of large datasets

T Fast filters on high-cardinality fields
D Filter dropdowns should load quickly and support search even with millions of distinct values. Filters on big dimensions load slowly or time out.
P wait 30 seconds for the account filter dropdown to load | can't search the customer list in a filter | have filters that time out on big dimensions
A fast filter value search | type-ahead on large dimensions | quick-loading dropdowns

T Better performance with many charts per dashboard
D Dashboards with 50+ charts shouldn't freeze or crash the browser. Large dashboards freeze or crash the browser.
P crash their browser tab on the big ops dashboard | have laptops freezing when the dashboard opens | split dashboards only to keep the browser alive
A lower browser memory use on dashboards with 50+ charts | a dashboard that stays responsive with dozens of charts | an end to browser crashes on big dashboards

T Faster search in large workspaces
D Search should return results instantly in workspaces with tens of thousands of items. Search is too slow in big workspaces to be useful.
P wait several seconds for search results | see search time out in their big workspace | have given up on search entirely
A instant search results | search that scales to huge workspaces | faster content lookup

T Faster transformation model builds
D Reduce the runtime of model builds (parallelism, pruning) so refreshes finish before business hours. Slow model builds delay fresh data and slow iteration.
P have the nightly model build still running at 9am | wait two hours for their transformation jobs to finish | can't iterate on models because every build is slow
A parallel model builds | shorter model build runtimes | faster transformation pipelines

T Faster CSV exports of large tables
D Large exports should stream and complete in minutes, not hours. Large exports take hours.
P wait an hour for a big export | have exports that crawl compared to querying the warehouse directly | leave downloads running overnight
A much quicker exports | streaming downloads | a speed-up for big file exports

T Faster connector syncs
D Reduce end-to-end sync latency for large connectors through parallel extraction. Long sync times delay data for the business day.
P wait three hours for the Salesforce sync to finish | have data arriving after the morning meeting | see syncs getting slower every month
A parallel extraction for big sources | shorter sync durations | quicker data loads

# Reliability
T 99.9% uptime SLA with service credits
D A contractual 99.9% availability commitment with service credits when it is missed. Enterprise contracts require a formal availability commitment.
P need an uptime commitment in the contract | have procurement asking for service credits | had two outages last quarter during board prep
A a contractual availability SLA | service credits for downtime | 99.9% uptime in the MSA

T Status page and incident notifications
D A public status page with component status, and email/Slack subscriptions for incidents. Customers learn about incidents from their own users.
P find out about our outages from their own users | don't know whether a slowdown is on their side or ours | want to check a status page instead of opening a ticket during an outage
A a status page they can subscribe to | email updates during our incidents and outages | a public page showing our service status

T Disaster recovery with defined RPO and RTO
D Documented and tested disaster recovery with recovery point and recovery time objectives. Vendor risk reviews require documented recovery objectives.
P need RPO and RTO numbers for their vendor risk assessment | have a business continuity review coming | keep asking what happens to their data if a region goes down
A documented recovery objectives | tested DR plans | backup and restore guarantees

T Multi-region failover
D Automatic failover to a secondary region if the primary region has an outage. A single-region outage takes the service down.
P were down for hours when the cloud region had issues | need the service to survive a regional outage | have uptime requirements a single region can't meet
A active-passive failover | a secondary region | cross-region redundancy

T Regional hosting in APAC for lower latency
D Host workspaces in Sydney, Singapore or Tokyo so APAC users don't suffer transpacific latency. Users far from our data centers experience slow pages.
P see slow page loads in Sydney and Singapore | have APAC users complaining everything feels laggy | need a region closer to their users
A an APAC data center | lower latency for Asia-Pacific | hosting in Sydney or Singapore

T Maintenance windows outside business hours
D Schedule maintenance outside the customer's business hours, with advance notice. Planned downtime disrupts customers' working hours.
P had maintenance downtime in the middle of their trading day | want notice before planned downtime | need maintenance aligned with their time zone
A maintenance during off-hours | advance maintenance notices | region-aware maintenance windows

T Automatic retry of queries on transient warehouse errors
D Retry queries automatically when the warehouse returns a transient error, instead of showing an error tile. Transient warehouse errors surface as broken charts and failed reports.
P see random error tiles that work after a refresh | have scheduled reports fail on a blip | tell users to just reload the page
A transparent retries of failed queries | fewer flaky chart errors | resilience to warehouse hiccups

T Guaranteed data freshness SLA
D A contractual commitment on how fresh synced data is (e.g. within one hour of the source). Operational teams need a commitment on how current the data is.
P need a commitment on how current the data is | have operational teams relying on hourly numbers | can't tell their execs when data will be ready
A a contractual freshness guarantee | data freshness SLAs | latency commitments on syncs

# Capacity
T Priority query queue for executive dashboards
D Let admins prioritize interactive queries for key dashboards over background jobs when the system is busy. Critical dashboards slow down when the system is busy.
P have exec dashboards stuck behind big batch queries | see everything slow down at month-end | want the CEO's dashboard to go first
A query prioritization | a fast lane for important dashboards | queueing that favors interactive users

T Dedicated compute for enterprise workspaces
D Isolated compute resources for a workspace so other tenants' load never slows it down. Shared resources make performance unpredictable for large customers.
P suffer noisy-neighbor slowdowns | need guaranteed capacity for their contract size | want resources that aren't shared
A isolated compute | dedicated capacity | a single-tenant performance tier

T Workload isolation between ETL and dashboards
D Separate pools for ingestion/modeling jobs and interactive queries so loads don't slow dashboards down. Heavy loads slow interactive dashboards.
P see dashboards crawl while the nightly load runs | have ETL competing with users for resources | can't run data loads during the day without slowing down dashboard users
A separate compute pools for batch loads and interactive queries | loads kept off the dashboard path | workload separation

T Autoscaling during peak periods
D Scale compute automatically during peaks like month-end close and quarter-end. Performance degrades at month-end and quarter-end peaks.
P hit slowdowns every quarter-end | have everyone running reports on the same day | want capacity to grow with demand automatically
A elastic capacity at peaks | automatic scale-up | burst capacity for month-end

T Embedded dashboards under high concurrency
D Embedded analytics must stay fast with thousands of concurrent external viewers. Customer-facing analytics slows down under heavy external traffic.
P see their customer portal slow to a crawl at peak | have thousands of end users hitting embedded dashboards at once | can't launch to all their clients until it scales
A embeds that scale to thousands of users | high-concurrency embedded performance | load-tested customer-facing dashboards

T Higher API rate limits
D Raise API rate limits for enterprise plans, with clear headers and a burst allowance. Integrations get throttled.
P hit 429 errors in their nightly sync against our API | have automations throttled | need higher limits for their integration
A higher API quotas | a burst allowance | enterprise rate limits

T Bulk API operations
D Batch endpoints to update many users, permissions or dashboards in one call. Large administrative changes require thousands of API calls.
P make 5,000 API calls to update permissions | have scripts that take hours because everything goes one at a time | hit rate limits on bulk changes
A batch endpoints | bulk user updates over the API | one call for many objects

T Higher query result row limits
D Raise the row limit on query results in tables and explores. Results are silently truncated.
P see results cut off at 5,000 rows | can't show a full list of accounts in a table | get misleading totals from truncated results
A larger result sets | a higher row cap in tables | an end to silent truncation

# Cost
T Warehouse cost controls for queries
D Budgets and limits on the warehouse spend caused by our queries, per team or dashboard. Dashboard queries cause unpredictable warehouse bills.
P got a surprise Snowflake bill because of dashboard queries | can't cap what users spend on the warehouse | need chargeback of query costs by team
A query spend limits | cost budgets per team | guardrails on warehouse usage

T Reduce Snowflake credits consumed by dashboards
D Optimize generated SQL and scheduling so dashboards consume fewer warehouse credits. Our queries consume a large share of customers' warehouse budget.
P see half their Snowflake credits going to our queries | keep a warehouse running all day just for dashboards | got pushback from their data platform team on cost
A more efficient generated SQL | lower warehouse consumption | fewer credits burned by refreshes

T Capacity and usage monitoring for admins
D An admin view of query volume, concurrency, cache hit rate and consumption over time. Admins have no insight into load and consumption.
P can't see what's driving load | don't know how close they are to their limits | have no visibility into cache hit rates
A an admin usage dashboard | consumption monitoring | capacity planning metrics

# Diagnostics
T Query performance profiler
D Show the SQL, timing breakdown and warehouse plan for each query so slow charts can be diagnosed. Authors have no way to see why a particular chart is slow.
P can't tell why a chart takes two minutes | open support tickets to learn which query is slow | have no visibility into the timing of the generated SQL
A a query profiler | timing breakdowns per query | explain plans in the UI

T Slow query alerts for admins
D Notify admins when queries exceed a duration threshold, with the dashboard and user that triggered them. Slow queries are discovered only through user complaints.
P only learn about slow dashboards from complaints | can't find the queries that hog the warehouse | want a heads-up when something runs for minutes
A alerts on long-running queries | notifications about slow dashboards | slow query reports

T Per-dashboard performance insights
D Highlight which charts on a dashboard are slowest and suggest fixes. Authors can't tell which charts make a dashboard slow.
P can't tell which tile is the slow one on a 30-chart dashboard | delete charts at random hoping the page gets faster | want the product to point out the bottleneck chart and suggest a fix
A a load time breakdown for each chart on a dashboard | tuning recommendations per dashboard | detection of the slowest tiles

T Query timeout configuration
D Let admins configure query timeouts per connection or role. One-size-fits-all timeouts kill legitimate queries or let runaways run.
P have runaway queries running for an hour | see queries killed too early for legitimate big reports | need different timeouts for analysts and viewers
A configurable timeouts | per-connection time limits | timeouts by role

T Cancel running queries
D Allow users and admins to cancel queries that are still running. Mistaken or abandoned queries keep consuming resources.
P can't stop a query they launched by mistake | have abandoned queries still running on the warehouse | wait for a huge query to finish before doing anything else
A a cancel button for queries | an admin kill switch for runaway queries | a way to stop abandoned queries
"""

REQUEST_CONCEPTS["ai-insights"] = """
# Natural language
T Natural language questions to charts
D Business users type a question in plain English ("revenue by region last quarter") and get a chart built on governed metrics. Business users depend on analysts for every ad-hoc question.
P have business users who can't build charts and queue requests with the data team | wait days for an analyst to answer a one-off question | want to type a question in plain English and get the number
A natural-language search over their data | a question box that returns a chart | conversational querying of their data

T Ask questions in Slack
D A Slack bot that answers data questions in natural language with a chart, right in the channel. People who live in Slack don't open the BI tool to get answers.
P ask analysts data questions in Slack all day | want answers without leaving Slack | have sales leaders who won't open a BI tool
A a Slack bot for data questions | answers to metric questions in a channel | chat-based analytics in Slack

T Follow-up questions in AI chat
D The AI assistant should keep context so users can refine ("now only EMEA", "by month") instead of starting over. Every refinement of a question means starting over.
P retype the whole question to change one filter | get unrelated answers to follow-up questions | can't have a back-and-forth with the assistant
A conversation memory in the assistant | follow-ups that refine the answer | contextual chat

T Multilingual natural language queries
D Accept questions in languages other than English (German, Japanese, Spanish) in the AI assistant. Non-English speakers can't use the AI assistant well.
P have business users who don't work in English | get wrong answers when they ask in German | need Japanese support in the assistant
A questions in their own language | non-English prompts | a multilingual assistant

T AI SQL generation and explanation
D Generate SQL from a description and explain existing SQL in plain language. Complex SQL is slow to write and hard to understand.
P have analysts who are slow at writing complex SQL | inherit queries nobody understands | want a starting query from a description
A text-to-SQL | plain-English explanations of queries | SQL drafted by AI

T AI assistant in the SQL editor
D Inline AI completion and fixes in the SQL editor (fix errors, optimize, complete joins). SQL errors and slow queries are hard to fix without help.
P get cryptic SQL errors and don't know how to fix them | want suggestions for the join they're writing | spend too long optimizing slow queries
A AI-powered completion in the editor | fix-this-error suggestions | an inline coding assistant for SQL

T Suggested questions and next analyses
D Suggest relevant questions and follow-up analyses based on the dataset and what others asked. Users facing a new dataset don't know where to start.
P don't know what to ask of a new dataset | have users staring at a blank explore page | want guidance on what to look at next
A suggested starting questions | next-step recommendations | guided analysis prompts

# Detection
T Anomaly detection on key metrics
D Automatically detect unusual changes in key metrics, taking seasonality into account, and alert the owners. Unusual metric changes are discovered too late.
P found out signups dropped only a week later | can't set static thresholds that work for seasonal metrics | miss spikes buried in dozens of dashboards
A automatic detection of unusual metric changes | ML-based anomaly alerts on KPIs | outlier detection on KPIs

T Anomaly alert sensitivity tuning
D Controls to tune anomaly alert sensitivity, snooze alerts, and mark false positives. Noisy anomaly alerts get ignored.
P get so many false alarms that they ignore all alerts | can't tell the detector a spike is expected | want fewer, more meaningful alerts
A adjustable sensitivity | a way to mark false positives | quieter anomaly alerts

T Root cause analysis for metric changes
D When a metric moves, automatically find which dimensions (region, plan, channel) explain the change. Explaining why a metric moved takes hours of manual slicing.
P spend a day slicing data to find out why revenue dipped | get asked why a metric moved in every exec meeting | can't quickly see which segment drove a drop
A an automatic why-did-it-change analysis | a breakdown of what drove a metric movement | root cause breakdowns for KPI changes

T Key driver analysis
D Identify which factors most influence an outcome (e.g. churn, conversion), with ranked importance. Teams don't know which factors drive their outcomes.
P can't tell which variables matter most for an outcome | rely on gut feel for what drives their KPIs | want the drivers of a metric ranked by importance
A ranked influencing factors for a metric | a key influencers view like Power BI has | what-matters-most analysis for any KPI

T Outlier highlighting in tables
D Highlight statistically unusual values in tables and pivots automatically. Unusual values in big tables go unnoticed.
P scan tables by eye for strange values | missed an outlier store in a table of 800 rows | want unusual numbers called out automatically
A automatic highlighting of unusual values | statistical outlier flags | outlier coloring in tables

T Marketing budget pacing alerts
D Warn when ad spend is pacing over or under budget for the month. Ad budgets are overspent before anyone notices.
P overspend the monthly ad budget before anyone notices | check pacing by hand every day | want warnings when a campaign burns budget too fast
A pacing warnings for budgets | alerts on overspend | projected month-end spend vs budget

# Prediction
T Time-series forecasting of revenue
D Forecast metrics like revenue or bookings with seasonality, shown as a projection on charts. Revenue forecasts are built manually in spreadsheets.
P build revenue forecasts in a spreadsheet every month | can't show a projection on the revenue chart | rely on gut calls for next quarter
A automatic forecasts on line charts | projections with seasonality | a forecast of next quarter's revenue

T Forecast confidence intervals
D Show uncertainty ranges around forecasts so users know how reliable a projection is. Single-line forecasts hide how uncertain they are.
P can't tell how much to trust a forecast line | got burned by point forecasts | need ranges for planning scenarios
A error bands on forecasts | best and worst case ranges | uncertainty shading

T Sales pipeline forecasting
D Predict quarter-end bookings from the current pipeline, stage conversion history and deal age. Quarter-end forecasts rely on rep intuition.
P forecast the quarter from rep gut feel | can't predict how much pipeline will actually close | are always off on the commit number
A predicted bookings from the pipeline | AI deal forecasting | a quarter-end landing estimate

T What-if scenario modeling
D Adjust drivers (price, headcount, conversion) and see the projected impact on key metrics. Scenario planning happens in spreadsheet copies.
P run scenarios in separate spreadsheet copies | can't show the board what happens if churn rises | want sliders to test their planning assumptions
A scenario planning with adjustable drivers | what-if analysis | a way to model price and headcount changes

T Seasonality-aware targets
D Suggest targets that account for seasonality instead of flat monthly splits. Flat monthly targets ignore seasonality and are routinely missed.
P split annual targets evenly by month and always miss in summer | can't set realistic monthly goals | argue about targets every quarter
A seasonally adjusted goals | data-driven target suggestions | monthly targets that follow seasonality

T Churn prediction scores for accounts
D Score each account's churn risk from usage, support and billing signals, with the top reasons. At-risk customers are identified too late to save them.
P find out about churn at the renewal call | have CSMs guessing which accounts are at risk | can't prioritize saves across 400 accounts
A an at-risk score per account | an early warning for churn | predicted renewal risk with reasons

T Lead scoring model
D Score leads and trial users on their likelihood to convert, based on firmographics and product behaviour. Sales teams can't prioritize the leads most likely to convert.
P have SDRs working leads in random order | can't tell which trials will convert | use a points-based scoring sheet nobody trusts
A predictive lead scores | trial conversion likelihood | ML scoring for inbound leads

T Next-best-action recommendations for CSMs
D Recommend concrete next steps per account (training, feature adoption, exec outreach) based on patterns. CSMs lack guidance on how to act on account signals.
P have CSMs unsure what to do with a low-usage account | want playbooks triggered by usage patterns | rely on tribal knowledge for account plans
A recommended next steps per account | AI playbook suggestions | account-level action recommendations

T Customer segmentation with clustering
D Automatically group customers into segments by behaviour using clustering. Customer segments are defined by intuition.
P segment customers by gut feel | can't find natural groups in their user base | want behaviour-based personas
A automatic customer clustering | behavioural segments | ML-discovered personas

# Text analytics
T Sentiment analysis of support tickets and NPS comments
D Score the sentiment of free-text survey answers and ticket comments and trend it over time. Free-text customer feedback is read by hand or not at all.
P read thousands of NPS comments by hand | can't tell whether support sentiment is getting worse | have verbatims nobody analyzes
A sentiment scores for comments | NPS verbatim analysis | sentiment trends from tickets

T Text classification of free-text fields
D Classify free-text fields (reasons, notes) into categories automatically. Free-text fields can't be reported on.
P have a loss-reason notes field that nobody can report on | tag thousands of comments by hand | can't group free text into categories
A automatic categorization of text fields | AI tagging of notes | topic classification

# Summaries
T AI-generated dashboard summaries
D A written summary at the top of each dashboard explaining the main changes and takeaways. Readers want the takeaways, not a wall of charts.
P have execs who want the takeaway, not 20 charts | write the summary of the dashboard by hand every week | keep getting asked "so what does this mean?"
A a written takeaway at the top of the dashboard | auto-generated highlights | a plain-language summary of what changed

T Explain this chart
D A button on any chart that explains in plain language what the chart shows and what stands out. Less experienced users struggle to interpret charts.
P have new users who don't know how to read some charts | get asked to interpret the same chart over and over | want context for a single visual
A a per-chart explanation | AI annotations on visuals | plain-language chart descriptions

T Weekly AI digest of notable changes
D A weekly email or Slack digest of the most significant metric changes across the workspace, generated by AI. Important changes are missed in dashboards nobody opens.
P don't have time to check every dashboard each week | want a Monday summary of what moved | miss important changes in dashboards they don't open
A a Monday digest of notable changes | AI-written weekly highlights | a summary email of what moved

T AI-generated narratives for QBR slides
D Generate narrative slide text for business reviews from the account's usage and outcomes. Writing the story for business reviews takes CSMs hours.
P spend hours writing the story for each QBR | have CSMs who write inconsistent reviews | want talking points generated from the data
A narrative text for review decks | AI-written QBR talking points | auto-drafted slide commentary

T Auto-generated metric documentation
D Use AI to draft descriptions for metrics, tables and columns from their SQL and usage. Most metrics and columns stay undocumented.
P have hundreds of undocumented columns | never get around to writing descriptions | want a first draft of their documentation
A AI-drafted field descriptions | auto-documentation of models | generated metric definitions

T Smart chart type recommendations
D Suggest the best chart type for the selected fields. Users pick chart types that don't suit their data.
P pick pie charts for everything | don't know which visualization fits their data | want the tool to suggest a chart
A chart suggestions based on the data | automatic visualization picks | recommended chart types

# AI governance
T Bring your own LLM (Azure OpenAI)
D Let customers route AI features through their own Azure OpenAI or Bedrock deployment and keys. Enterprises may only use AI through their own approved model provider.
P can only use AI through their approved Azure OpenAI tenant | have legal refusing our default model provider | want AI costs on their own cloud bill
A AI features routed through their own Azure OpenAI | a bring-your-own-model option | support for their Bedrock endpoint

T Admin controls to disable AI features
D Workspace settings to turn AI features on or off, per feature and per group. Companies need to control AI rollout for legal and policy reasons.
P have legal requiring AI features to stay off until reviewed | can't turn off the assistant for one department | need an opt-out before rollout
A a switch to turn AI off | per-group AI controls | opt-out settings for the assistant

T PII redaction before sending data to the LLM
D Strip or mask personal data from prompts and results before they are sent to the model provider. Privacy teams block AI features that could send personal data to a model.
P worry that customer names and emails get sent to the model | have privacy blocking the AI rollout | need guarantees that personal data is masked in prompts
A masking of personal data in prompts | PII scrubbing for AI | redaction before LLM calls

T Show sources and SQL behind AI answers
D Every AI answer shows the metrics, filters and SQL it used so users can verify it. Users don't trust AI answers they can't verify.
P don't trust AI answers they can't verify | got a wrong number from the assistant and couldn't tell why | need to see how the answer was computed
A the query behind each AI answer | citations for AI responses | transparency into how answers were built

T Feedback on AI answers to improve accuracy
D Thumbs up/down and corrections on AI answers that improve future answers for the workspace. The assistant repeats the same mistakes and can't learn company terminology.
P keep getting the same wrong answer from the assistant | can't teach the AI their terminology | want to correct it when it misreads a question
A thumbs up and down on answers | a way to teach the assistant their vocabulary | corrections that stick

T Automatic PII detection in datasets
D Scan datasets and flag columns that look like personal data (emails, phone numbers, IDs). Personal data hides in unexpected columns.
P don't know where personal data lives in their warehouse | found emails in columns called "notes" | want a scan that flags sensitive fields
A automatic scans for personal data | PII detection across tables | sensitive column discovery

T AI data cleaning suggestions
D Suggest fixes for messy data: inconsistent categories, bad dates, likely typos. Messy, inconsistent values are cleaned by hand.
P clean inconsistent country names by hand | have the same category spelled five ways | want suggestions to standardize messy values
A AI suggestions to fix messy values | AI-assisted standardization of categories | automatic cleanup recommendations for dirty data
"""

# --------------------------------------------------------------------------------------------
# Needs with NO request in the dataset: hard negatives for the "create a new request" path.
# Plausible customer feedback (often close to a real concept), never gibberish.
# --------------------------------------------------------------------------------------------

NOMATCH_CONCEPTS = """
# Product
T Dark mode
P get eye strain from the bright white interface in late sessions | use dark mode everywhere else and miss it here | find the white UI harsh on big monitors at night
A a dark theme for the whole app | dark mode | a night-friendly color scheme

T Localized user interface
P have users in Japan who struggle with an English-only interface | need the menus in German for their works council | can't roll out to their French offices without a translated UI
A the app UI in Japanese, German and French | translated menus and help text | a localized interface

T Right-to-left language support
P see Arabic and Hebrew text rendered backwards | have Middle East teams who can't read labels properly | get broken layouts with RTL data
A RTL layout support | proper Arabic and Hebrew rendering | right-to-left text handling

T Accessibility and screen reader support
P have a visually impaired analyst who can't use the charts with a screen reader | need WCAG 2.1 AA compliance for a public-sector contract | find keyboard navigation broken in places
A screen reader support | WCAG AA compliance | an accessibility conformance report

T Keyboard shortcuts across the app
P click through menus for actions they do fifty times a day | want power-user shortcuts like in their IDE | find the app slow to navigate with a mouse
A keyboard shortcuts | a command palette | hotkeys for common actions

T In-app onboarding tours for new users
P have new users who log in once and never come back | don't know where to start after signup | rely on us for every onboarding session
A guided product tours | in-app walkthroughs | onboarding checklists for new users

T Safari rendering bugs
P see charts rendering blank in Safari | have execs on Macs whose dashboards look broken | get overlapping labels only in Safari
A Safari compatibility fixes | proper rendering on Mac browsers | better cross-browser testing

T Too many notification emails
P get so many emails from the product that they filter them all | have users who unsubscribe from everything | want one daily email instead of dozens
A notification preferences | a way to mute product emails | batched notifications

T Clearer error messages
P see "something went wrong" with no details | can't tell whether a failure is their data or our bug | open tickets for errors they could fix themselves
A actionable error messages | error details they can act on | better troubleshooting hints

T Custom sender domain for product emails
P have emails from our domain going to spam | want notifications to come from their own domain | get phishing warnings from their mail filters
A emails sent from their own domain | custom SMTP settings | a branded sender address

T Advance notice of UI changes
P had training materials break after a surprise UI change | got confused users when the menu moved overnight | need time to prepare their people for changes
A release notes ahead of changes | a preview of upcoming UI updates | a change calendar

T Early access program for beta features
P want to try new features before everyone else | would happily give feedback on betas | want to be a design partner
A early access | a beta program | design partner status

# Visuals without a request
T Gantt charts for project timelines
P track project timelines in a separate tool because there's no timeline chart | want to show milestones as horizontal bars | can't visualize start and end dates
A a Gantt chart type | timeline bars with start and end dates | project schedule visuals

T Calendar heatmap visualization
P want to see activity per day across a whole year at a glance | can't show daily patterns like a GitHub contribution graph | plot day-of-week patterns in Excel
A a calendar heatmap | a day-by-day grid chart | contribution-style visualizations

T Box plots for distributions
P can't show the spread of deal sizes, only averages | have statisticians asking for box-and-whisker plots | want to see medians and quartiles visually
A box-and-whisker charts | distribution visuals with quartiles | violin or box plots

T Word cloud visualization
P want to show the most frequent words in survey answers visually | paste text into a free word cloud website | need a quick visual for open-text questions
A a word cloud chart | a visual of frequent terms | a tag cloud

T Data entry forms and write-back
P want to enter forecast adjustments directly into a table | keep comments in a spreadsheet next to the dashboard | can't let managers type in their commit numbers
A write-back from tables | input forms on dashboards | editable cells that save to the database

T Sales leaderboards with rep rankings
P want to rank reps by bookings on the sales floor | build leaderboards in a spreadsheet | want some friendly competition visible
A a leaderboard view | rep rankings with photos | gamified leaderboards

# Commercial
T Per-seat pricing is too expensive
P balk at paying full price for people who look at a dashboard once a month | can't justify seats for occasional viewers | find per-seat pricing scales badly for them
A usage-based pricing | a cheaper tier for occasional users | a flat-fee enterprise license

T Billing in local currency and consolidated invoicing
P get invoiced in USD and eat the FX risk | have five subsidiaries each receiving separate invoices | need invoices in euros with their PO number
A invoices in EUR and GBP | one consolidated invoice for all subsidiaries | PO numbers on every invoice

T Longer proof-of-concept trial
P ran out of trial days before their security review finished | need more time to test with real data | want a 60-day pilot instead of 14 days
A an extended trial | a longer pilot period | a paid POC option

T Purchasing through AWS Marketplace
P want to buy through their AWS commit to burn down credits | have procurement that only approves Marketplace purchases | can't add a new vendor this year
A an AWS Marketplace listing | private offers through Marketplace | purchasing against their cloud commit

T Custom DPA and legal terms
P need their own data processing agreement signed | have legal redlining our MSA for weeks | require EU standard contractual clauses
A a signature on their DPA | custom contract terms | SCCs in the agreement

T Faster security questionnaire turnaround
P waited five weeks for our security questionnaire answers | have a procurement deadline and no security review | need the SIG Lite filled out this month
A faster security review responses | a trust center with pre-filled answers | a completed SIG questionnaire

T Certificate of data deletion at offboarding
P need written proof that all their data is destroyed when the contract ends | have a vendor policy requiring deletion certificates | keep asking how long backups are kept after termination
A a data destruction certificate | documented deletion at contract end | backup purge confirmation

T Carbon footprint reporting of cloud usage
P need emissions data from all vendors for their ESG report | have a sustainability officer asking about our carbon footprint | must report Scope 3 emissions
A emissions data for their usage | a carbon report | sustainability disclosures

# Services
T Self-hosted on-premise deployment
P can't use any SaaS product for this data | want to run the software in their own data center | have a government contract that forbids cloud hosting
A an on-prem version | self-hosting on their own Kubernetes | an air-gapped installation

T Training and certification program
P need a way to train 200 new analysts on the tool | want their people certified before rollout | can't find structured courses
A a certification program | instructor-led training | a structured learning path

T Dedicated customer success manager
P feel like they talk to a different person every time | want a named CSM for an account their size | don't have anyone who knows their setup
A a named account manager | a dedicated CSM | a single point of contact

T 24/7 support coverage in APAC hours
P open tickets in Sydney and wait until the US wakes up | can't get anyone on the phone during their business day | had an outage at 10am Singapore time with no response for hours
A follow-the-sun support | support staff in their time zone | 24/7 phone support

T Customer community and user groups
P want to learn how other companies use the product | have no forum to ask peers | would join a user group in London
A a customer community forum | regional user groups | peer best-practice sessions

T Better API documentation and examples
P can't figure out authentication from the API docs | find the docs missing examples for common tasks | had a developer give up on the integration after a day
A more API examples | a Postman collection | clearer developer docs

T Migration tooling from Tableau and Looker
P have 2,000 Tableau workbooks to move | can't justify the switch without a migration path | need their LookML converted
A automated migration from Tableau | a LookML import tool | migration services
"""

# --------------------------------------------------------------------------------------------
# Variants: at scale > 1 each concept is also requested for specific contexts, which keeps titles
# unique and meaningful ("Scheduled PDF exports of dashboards - on Snowflake").
# kind -> (title label template, description sentence template, mention sentence templates, values)
# --------------------------------------------------------------------------------------------

VARIANT_KINDS: dict[str, dict[str, object]] = {
    "warehouse": {
        "label": "on {x}",
        "desc": "Must work for workspaces running on {x}.",
        "mentions": [
            "They run on {x}.",
            "Their warehouse is {x}.",
            "This is for their {x} setup.",
            "All their data sits in {x}.",
        ],
        "values": [
            "Snowflake",
            "BigQuery",
            "Redshift",
            "Databricks",
            "Postgres",
            "SQL Server",
            "ClickHouse",
            "Azure Synapse",
            "MySQL",
            "Oracle",
            "Teradata",
            "Trino",
        ],
    },
    "platform": {
        "label": "in the {x}",
        "desc": "Needed in the {x}.",
        "mentions": [
            "They need this in the {x}.",
            "Specifically asking about the {x}.",
            "This is about the {x}.",
        ],
        "values": [
            "mobile app",
            "iPad app",
            "embedded portal",
            "public API",
            "Slack app",
            "Teams app",
        ],
    },
    "industry": {
        "label": "for {x} teams",
        "desc": "Requested by {x} customers, who have specific requirements here.",
        "mentions": [
            "They're a {x} org.",
            "Typical ask from {x} customers.",
            "In {x} this matters a lot.",
        ],
        "values": [
            "healthcare",
            "retail",
            "financial services",
            "manufacturing",
            "logistics",
            "public sector",
            "higher education",
            "media",
            "insurance",
            "telecom",
            "hospitality",
            "pharma",
        ],
    },
    "scale": {
        "label": "for {x}",
        "desc": "Needed for {x}.",
        "mentions": ["Their setup: {x}.", "Relevant for {x} like them."],
        "values": [
            "multi-workspace orgs",
            "agencies managing many clients",
            "franchise networks",
            "10k+ user deployments",
            "multi-brand companies",
            "global subsidiaries",
        ],
    },
    "tool": {
        "label": "for {x} data",
        "desc": "Applies to data coming from {x}.",
        "mentions": [
            "The data in question comes from {x}.",
            "Mostly about their {x} data.",
        ],
        "values": [
            "Salesforce",
            "HubSpot",
            "Dynamics 365",
            "Zendesk",
            "Marketo",
            "NetSuite",
            "Intercom",
            "Pipedrive",
            "ServiceNow",
            "Stripe",
        ],
    },
    "idp": {
        "label": "with {x}",
        "desc": "Must work with {x} as the identity provider.",
        "mentions": ["Their IdP is {x}.", "They use {x} for identity."],
        "values": [
            "Okta",
            "Entra ID",
            "Ping Identity",
            "OneLogin",
            "Google Workspace",
            "JumpCloud",
            "Auth0",
            "CyberArk",
        ],
    },
    "compliance": {
        "label": "under {x}",
        "desc": "Needs to satisfy {x} requirements.",
        "mentions": ["Driven by their {x} requirements.", "Their {x} auditors ask for it."],
        "values": ["HIPAA", "SOC 2", "GDPR", "FedRAMP", "ISO 27001", "PCI DSS", "SOX", "DORA"],
    },
    "region": {
        "label": "for the {x} rollout",
        "desc": "Needed for the {x} rollout.",
        "mentions": ["This is for their {x} rollout.", "Coming from their {x} team."],
        "values": ["EMEA", "APAC", "LATAM", "North America", "Japan", "DACH"],
    },
}

AREA_VARIANT_KINDS: dict[str, list[str]] = {
    "dashboards": ["platform", "industry", "scale", "warehouse", "region"],
    "data-ingestion": ["warehouse", "industry", "scale", "region", "compliance"],
    "transformations": ["warehouse", "industry", "scale", "tool"],
    "integrations": ["tool", "industry", "scale", "region", "platform"],
    "reporting": ["industry", "scale", "region", "compliance", "tool"],
    "access-management": ["idp", "compliance", "industry", "scale", "region"],
    "performance": ["warehouse", "scale", "region", "industry", "platform"],
    "ai-insights": ["industry", "platform", "tool", "region", "warehouse"],
}

# Variant kinds that would contradict a concept ("EU data residency - for the LATAM rollout",
# "Azure AD group sync - with Okta"); these concepts skip them.
VARIANT_EXCLUSIONS: dict[str, list[str]] = {
    "Mobile-responsive dashboard layouts": ["platform"],
    "Change data capture from PostgreSQL": ["warehouse"],
    "On-premise Oracle database ingestion": ["warehouse"],
    "Zero-copy reads from Snowflake data shares": ["warehouse"],
    "Databricks Unity Catalog connector": ["warehouse"],
    "Reverse ETL write-back to Salesforce": ["tool"],
    "HubSpot write-back of product usage": ["tool"],
    "Salesforce Lightning component for account metrics": ["tool"],
    "Gainsight health score integration": ["tool"],
    "Zendesk and Intercom sidebar app": ["tool"],
    "Microsoft Teams integration": ["platform"],
    "Mobile push notifications for alerts": ["platform"],
    "Azure AD group sync": ["idp"],
    "Google Workspace login with group mapping": ["idp"],
    "EU data residency": ["region", "compliance"],
    "HIPAA compliance with BAA": ["compliance", "industry"],
    "Regional hosting in APAC for lower latency": ["region"],
    "Reduce Snowflake credits consumed by dashboards": ["warehouse"],
    "Ask questions in Slack": ["platform"],
}

# --------------------------------------------------------------------------------------------
# Sentence frames. {S}/{s}: subject (capitalised / as is); {p}: pain; {a}/{A}: ask.
# --------------------------------------------------------------------------------------------

# Frames that read well with present-tense pains only.
PAIN_FRAMES_PRESENT: list[str] = [
    "Right now {s} {p}.",
    "Main complaint: {s} {p}.",
    "{S} {p}, and it gets worse as they grow.",
    "Today {s} {p}.",
    "Biggest gripe is that {s} {p}.",
    "{S} {p} - super frustrating for them.",
    "Recurring theme: {s} {p}.",
    "Pain point is that {s} {p}.",
    "At the moment {s} {p}.",
]
# Frames that also work with past-tense pains ("had two outages last quarter").
PAIN_FRAMES_ANY: list[str] = [
    "{S} {p}.",
    "{S} {p}.",
    "They told me {s} {p}.",
    "Apparently {s} {p}.",
    "Heard again that {s} {p}.",
    "Problem is {s} {p}.",
    "Honestly, {s} {p}.",
    "Context: {s} {p}.",
]

# Frames for wish-like pains ("want a ...", "need ...").
PAIN_FRAMES_WISH: list[str] = [
    "{S} {p}.",
    "{S} {p}.",
    "They told me {s} {p}.",
    "Apparently {s} {p}.",
    "Heard again that {s} {p}.",
    "Honestly, {s} {p}.",
    "Bottom line: {s} {p}.",
]

ASK_FRAMES: list[str] = [
    "They want {a}.",
    "They're asking for {a}.",
    "Asked whether we have {a} on the roadmap.",
    "Would love {a}.",
    "They need {a}.",
    "Any plans for {a}?",
    "Looking for {a}.",
    "{A} would solve it for them.",
    "Ask: {a}.",
    "Can we get them {a}?",
    "What they really want is {a}.",
    "They keep coming back to {a}.",
    "Hoping we can ship {a} this half.",
    "They'd expand if we had {a}.",
    "The ask: {a}.",
    "Request is basically {a}.",
    "Told them I'd check on {a}.",
    "Anything on the roadmap for {a}?",
]

TERSE_FRAMES: list[str] = [
    "{A}.",
    "+1 for {a}.",
    "{A} - asked again.",
    "Need {a} asap.",
    "{acct} wants {a}.",
    "{acct}: {a}",
    "{A} please!",
    "Another ask for {a}.",
    "{acct} asking about {a} again",
]

WORKAROUND_FRAMES: list[str] = [
    "Workaround today: they {w}.",
    "For now they {w}, which doesn't scale.",
    "Currently they {w}.",
    "They {w} as a stopgap.",
]
GENERIC_WORKAROUNDS: list[str] = [
    "export everything to Excel and patch it by hand",
    "maintain a homegrown script for it",
    "ask our support team each time",
    "have an analyst spend half a day on it every week",
    "pay for a separate tool just for this",
    "paste screenshots into slides",
]

CONTEXT_SENTENCES: list[str] = [
    "They have about {n} users on the platform today.",
    "Renewal is coming up in {months} months.",
    "Expansion opp is roughly ${k}k.",
    "{comp} already does this, and they know it.",
    "They're evaluating {comp} in parallel.",
    "This came up in {few} of our last {more} calls with them.",
    "Their {role} raised it personally.",
    "Happy to set up a call with PM if helpful.",
    "Their {role} wants an answer by end of quarter.",
    "They've asked about this before.",
    "It's holding up the rollout to another {team} people.",
    "They said they'd buy more seats if this landed.",
    "They mentioned {comp} handles this out of the box.",
    "Procurement is asking whether it's on the roadmap.",
    "Champion is new and wants a quick win.",
    "Would help us displace {comp} there.",
    "Not the first customer to ask this week.",
    "They'd be happy to beta test.",
    "Multiple teams there have mentioned it.",
    "Their exec sponsor brought it up unprompted.",
    "They shared a screenshot of how {comp} does it.",
    "{comp} is pitching them hard on this.",
    "They're consolidating tools this year, so it matters.",
    "About {n} people there would use it daily.",
]

SEVERITY_SENTENCES: dict[str, list[str]] = {
    "high": [
        "Dealbreaker for the renewal.",
        "This is a blocker, they won't sign without it.",
        "Hard requirement for the expansion.",
        "Must-have for them; procurement won't move forward otherwise.",
        "Renewal is at risk if we can't give them a date.",
        "Blocker for the ${k}k expansion.",
        "They called it a dealbreaker.",
        "Top priority for their exec team, potential churn risk.",
    ],
    "medium": [
        "Significant pain for them.",
        "Not a blocker yet, but it costs them hours every week.",
        "They keep raising it.",
        "Meaningful friction for their team.",
        "Real pain point, not a dealbreaker.",
    ],
    "low": [
        "Nice to have.",
        "Low priority, just flagging.",
        "Not urgent.",
        "Wish-list item, not a blocker.",
        "Minor, but worth tracking.",
    ],
}

SOURCE_OPENERS: dict[str, list[str]] = {
    "call": [
        "Call notes:",
        "From today's call with {acct}:",
        "Discovery call with {acct}.",
        "Spoke with their {role} today.",
        "Quick one from my call with {acct}.",
        "Had a call with {acct} this morning.",
    ],
    "email": [
        "Per an email from their {role}:",
        "Their {role} emailed about this.",
        "Follow-up email from {acct}:",
    ],
    "qbr": [
        "QBR notes:",
        "From the {acct} account review:",
        "Came up in the quarterly check-in with {acct}.",
        "At the exec review their {role} raised this.",
    ],
    "demo": [
        "From the demo with {acct}:",
        "Demo feedback:",
        "During the demo their {role} asked about this.",
    ],
    "slack": [
        "From our shared Slack channel with {acct}:",
        "Their {role} pinged in the shared channel.",
    ],
    "support": [
        "Escalated from a support ticket:",
        "Via support:",
        "Support escalation from {acct}.",
    ],
    "onsite": ["Onsite with {acct} this week.", "From the exec sponsor meeting at {acct}:"],
}
SOURCE_WEIGHTS: dict[str, int] = {
    "call": 40,
    "email": 15,
    "qbr": 12,
    "demo": 10,
    "slack": 10,
    "support": 8,
    "onsite": 5,
}

COMPETITORS: list[str] = [
    "Looker",
    "Tableau",
    "Power BI",
    "Sigma",
    "ThoughtSpot",
    "Mode",
    "Domo",
    "Qlik",
    "Metabase",
    "Hex",
    "Sisense",
    "Omni",
]
ROLES: list[str] = [
    "VP of Data",
    "Head of RevOps",
    "CFO",
    "BI lead",
    "data platform lead",
    "IT director",
    "CISO",
    "analytics manager",
    "COO",
    "Director of FP&A",
    "marketing ops lead",
    "VP of Customer Success",
    "head of sales ops",
    "CTO",
]

# --------------------------------------------------------------------------------------------
# People and companies
# --------------------------------------------------------------------------------------------

# (name, role, regions covered); the system user is added by the generator.
DEMO_PEOPLE: list[tuple[str, str, tuple[str, ...]]] = [
    ("Maya Patel", "Account Executive", ("North America",)),
    ("Jordan Reyes", "Account Executive", ("North America", "LATAM")),
    ("Elena Petrova", "Enterprise Account Executive", ("North America", "EMEA")),
    ("Marcus Johnson", "Solutions Engineer", ("North America",)),
    ("Priya Raman", "Solutions Engineer", ("North America", "APAC")),
    ("Tom O'Brien", "Customer Success Manager", ("North America",)),
    ("Aiko Tanaka", "Customer Success Manager", ("APAC",)),
    ("Lucas Moreau", "Account Executive", ("EMEA",)),
    ("Sofia Almeida", "Account Executive", ("LATAM",)),
    ("Hannah Schmidt", "Solutions Engineer", ("EMEA",)),
    ("David Kim", "Customer Success Manager", ("North America", "EMEA", "APAC", "LATAM")),
]

COMPANY_PREFIXES: list[str] = [
    "Northwind",
    "Brightline",
    "Bluepeak",
    "Silverleaf",
    "Kestrel",
    "Harborview",
    "Redwood",
    "Summitry",
    "Ironclad",
    "Meridian",
    "Crestview",
    "Lumen",
    "Pinnacle",
    "Evergreen",
    "Clearwater",
    "Granite",
    "Horizon",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Copperline",
    "Driftwood",
    "Elmstead",
    "Fairhaven",
    "Foxglove",
    "Glacier",
    "Halcyon",
    "Highland",
    "Juniper",
    "Keystone",
    "Lakeshore",
    "Larkspur",
    "Mariner",
    "Maplewood",
    "Monarch",
    "Nimbus",
    "Oakridge",
    "Orchard",
    "Paragon",
    "Pioneer",
    "Quarry",
    "Quill",
    "Riverbend",
    "Sablewood",
    "Sequoia",
    "Shoreline",
    "Solstice",
    "Sterling",
    "Stonebridge",
    "Tidewater",
    "Trailhead",
    "Truepoint",
    "Vantage",
    "Verdant",
    "Westbrook",
    "Willowby",
    "Wren",
    "Zephyr",
    "Alder",
    "Arbor",
    "Aspen",
    "Bayside",
    "Birchwood",
    "Bramble",
    "Cascade",
    "Cedar",
    "Cinder",
    "Citadel",
    "Coral",
    "Cypress",
    "Ember",
    "Falcon",
    "Fernhill",
    "Flint",
    "Garnet",
    "Hawthorne",
    "Heron",
    "Indigo",
    "Ivory",
    "Jasper",
    "Kingfisher",
    "Lantern",
    "Linden",
    "Magnolia",
    "Marble",
    "Meadowlark",
    "Mosaic",
    "Northgate",
    "Obsidian",
    "Osprey",
    "Pebble",
    "Pinecrest",
    "Prairie",
    "Quartz",
    "Ravenwood",
    "Ridgeline",
    "Rosewood",
    "Saffron",
    "Sandstone",
    "Sapphire",
    "Slate",
    "Sparrow",
    "Spruce",
    "Starling",
    "Stratus",
    "Sunridge",
    "Thistle",
    "Timberline",
    "Topaz",
    "Upland",
    "Vista",
    "Wayfarer",
    "Whitestone",
    "Wildflower",
    "Windward",
    "Yarrow",
    "Acorn",
    "Amberly",
    "Anchor",
    "Bellwether",
    "Canopy",
    "Compass",
    "Crescent",
    "Dune",
    "Everline",
    "Fieldstone",
    "Greystone",
    "Helix",
    "Hollowbrook",
    "Kinetic",
    "Lodestar",
    "Marigold",
    "Northstar",
    "Orion",
    "Parallel",
    "Radiant",
    "Skyward",
    "Tandem",
    "Tern",
    "Bridgewater",
    "Cloverfield",
    "Deerfield",
    "Eastwind",
    "Goldcrest",
    "Ironwood",
]

# industry -> company name suffixes
INDUSTRY_SUFFIXES: dict[str, list[str]] = {
    "Software": ["Labs", "Software", "Systems", "Cloud", "Technologies", "Analytics"],
    "Financial Services": ["Capital", "Financial", "Bank", "Payments", "Wealth"],
    "Healthcare": ["Health", "Medical", "Care", "Clinics", "Diagnostics"],
    "Retail": ["Retail", "Outfitters", "Market", "Brands", "Home"],
    "Manufacturing": ["Manufacturing", "Industries", "Components", "Robotics", "Materials"],
    "Logistics": ["Logistics", "Freight", "Shipping", "Supply", "Transport"],
    "Media": ["Media", "Studios", "Publishing", "Entertainment"],
    "Education": ["Learning", "Academy", "Education"],
    "Insurance": ["Insurance", "Mutual", "Assurance"],
    "Telecommunications": ["Telecom", "Networks", "Communications", "Wireless"],
    "Hospitality": ["Hotels", "Hospitality", "Travel", "Resorts"],
    "Energy": ["Energy", "Power", "Renewables", "Utilities"],
    "Pharmaceuticals": ["Therapeutics", "Biosciences", "Pharma", "Genomics"],
}
# Software-heavy, like a real B2B analytics customer base.
INDUSTRY_WEIGHTS: dict[str, int] = {
    "Software": 22,
    "Financial Services": 12,
    "Healthcare": 9,
    "Retail": 10,
    "Manufacturing": 8,
    "Logistics": 6,
    "Media": 6,
    "Education": 4,
    "Insurance": 5,
    "Telecommunications": 4,
    "Hospitality": 4,
    "Energy": 4,
    "Pharmaceuticals": 6,
}

REGION_WEIGHTS: dict[str, int] = {"North America": 50, "EMEA": 28, "APAC": 15, "LATAM": 7}
TERRITORIES: dict[str, list[str]] = {
    "North America": ["NA-West", "NA-Central", "NA-East", "NA-Canada"],
    "EMEA": ["EMEA-UK&I", "EMEA-DACH", "EMEA-France", "EMEA-Nordics", "EMEA-Benelux", "EMEA-South"],
    "APAC": ["APAC-ANZ", "APAC-Japan", "APAC-SEA", "APAC-India"],
    "LATAM": ["LATAM-Brazil", "LATAM-Mexico", "LATAM-South"],
}
SUB_SEGMENTS: dict[str, list[str]] = {
    "Enterprise": ["Strategic", "Named", "Majors"],
    "Mid-Market": ["Growth", "Expansion", "Core"],
    "SMB": ["Commercial", "Emerging", "Velocity"],
}
