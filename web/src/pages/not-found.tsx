import { Link } from '../components/link.js';
import { PageTitle } from './page-title.js';

export function NotFoundPage() {
  return (
    <>
      <PageTitle>Nothing here</PageTitle>
      <p>
        This address is not a dashboard screen. Go to the <Link href="/">overview</Link>.
      </p>
    </>
  );
}
