// The admin CLI cases against a server (--url); see admin-cases.ts.
import { adminTests } from './admin-cases.js';

adminTests('server');
