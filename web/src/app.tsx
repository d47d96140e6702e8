/**
 * The shell: header with the main navigation and the live-connection state, the current screen,
 * notices, and the token prompt. Moving to another screen puts the keyboard focus on its heading
 * (screen readers announce the new page, Tab continues from its top).
 */
import { useEffect, useRef } from 'preact/hooks';
import { auth, signOut } from './api/auth.js';
import { Link } from './components/link.js';
import { TokenPrompt } from './components/token-prompt.js';
import { BreakersPage } from './pages/breakers.js';
import { JobPage } from './pages/job.js';
import { JobsPage } from './pages/jobs.js';
import { NotFoundPage } from './pages/not-found.js';
import { OverviewPage } from './pages/overview.js';
import { QueuePage } from './pages/queue.js';
import { SchedulesPage } from './pages/schedules.js';
import { WebhooksPage } from './pages/webhooks.js';
import { WorkersPage } from './pages/workers.js';
import { WorkflowRunPage } from './pages/workflow-run.js';
import { WorkflowsPage } from './pages/workflows.js';
import { TopicPage } from './pages/topic.js';
import { dismiss, notices } from './state/notices.js';
import { location, match, paths, type Route } from './state/router.js';
import { liveStats } from './state/stats.js';
import { useStore } from './state/store.js';

export function App() {
  const { path, query } = useStore(location);
  const route = match(path);
  const firstRender = useRef(true);

  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    document.getElementById('page-title')?.focus();
  }, [path]);

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header route={route} />
      <main id="main" tabIndex={-1}>
        <Screen route={route} query={query} />
      </main>
      <Notices />
      <TokenPrompt />
    </>
  );
}

function Screen({ route, query }: { route: Route; query: URLSearchParams }) {
  switch (route.screen) {
    case 'overview':
      return <OverviewPage />;
    case 'queue':
      return <QueuePage key={route.name} name={route.name} tab={route.tab} />;
    case 'topic':
      return <TopicPage key={route.name} name={route.name} />;
    case 'jobs':
      return <JobsPage query={query} />;
    case 'job':
      return <JobPage key={route.id} id={route.id} />;
    case 'schedules':
      return <SchedulesPage />;
    case 'webhooks':
      return <WebhooksPage query={query} />;
    case 'workers':
      return <WorkersPage />;
    case 'workflows':
      return <WorkflowsPage query={query} />;
    case 'workflow-run':
      return <WorkflowRunPage key={route.id} id={route.id} />;
    case 'breakers':
      return <BreakersPage />;
    case 'not-found':
      return <NotFoundPage />;
  }
}

const sections = [
  {
    label: 'Overview',
    href: paths.overview(),
    active: (route: Route) => ['overview', 'queue', 'topic'].includes(route.screen),
  },
  {
    label: 'Jobs',
    href: paths.jobs(),
    active: (route: Route) => route.screen === 'jobs' || route.screen === 'job',
  },
  {
    label: 'Workflows',
    href: paths.workflows(),
    active: (route: Route) => route.screen === 'workflows' || route.screen === 'workflow-run',
  },
  { label: 'Schedules', href: paths.schedules(), active: (route: Route) => route.screen === 'schedules' },
  { label: 'Webhooks', href: paths.webhooks(), active: (route: Route) => route.screen === 'webhooks' },
  { label: 'Workers', href: paths.workers(), active: (route: Route) => route.screen === 'workers' },
  { label: 'Breakers', href: paths.breakers(), active: (route: Route) => route.screen === 'breakers' },
];

function Header({ route }: { route: Route }) {
  const { token } = useStore(auth);
  return (
    <header class="top">
      <Link href="/" class="brand">
        Spool
      </Link>
      <nav aria-label="Main">
        <ul>
          {sections.map((section) => (
            <li key={section.href}>
              <Link href={section.href} aria-current={section.active(route) ? 'page' : undefined}>
                {section.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div class="top-end">
        <LiveIndicator />
        {token !== null ? (
          <button type="button" class="link-button" onClick={signOut}>
            Sign out
          </button>
        ) : null}
      </div>
    </header>
  );
}

const liveLabels = {
  idle: null,
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  failed: 'Live updates off',
  unsupported: 'No live stats on this server',
} as const;

/** Whether the live stats stream is connected: stale numbers must not look live. */
function LiveIndicator() {
  const { status } = useStore(liveStats);
  const label = liveLabels[status];
  if (label === null) return null;
  return (
    <span class={`live live-${status}`} role="status">
      <span class="live-dot" aria-hidden="true" />
      {label}
    </span>
  );
}

function Notices() {
  const list = useStore(notices);
  return (
    <div class="notices">
      <div role="status" aria-live="polite">
        {list
          .filter((notice) => notice.kind === 'success')
          .map((notice) => (
            <NoticeItem key={notice.id} id={notice.id} kind={notice.kind} text={notice.text} />
          ))}
      </div>
      <div role="alert" aria-live="assertive">
        {list
          .filter((notice) => notice.kind === 'error')
          .map((notice) => (
            <NoticeItem key={notice.id} id={notice.id} kind={notice.kind} text={notice.text} />
          ))}
      </div>
    </div>
  );
}

function NoticeItem({ id, kind, text }: { id: number; kind: string; text: string }) {
  return (
    <div class={`notice notice-${kind}`}>
      <span>{text}</span>
      <button type="button" class="link-button" aria-label="Dismiss" onClick={() => dismiss(id)}>
        ×
      </button>
    </div>
  );
}
