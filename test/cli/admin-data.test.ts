// The admin CLI cases on a data directory (--data); see admin-cases.ts.
import { adminTests } from './admin-cases.js';

adminTests('data');
