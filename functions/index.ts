// The app's entry (package.json main, and the bundle's entry): registers every function.
import './notifications';
import './contentWorker';
import './reconciler';
import './reconcileStream';
import './subscriptionKeeper';
import './keepTenant';
import './redeliver';
import './health';
import './heartbeat';
