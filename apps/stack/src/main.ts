import { up } from './up';

/** `npm start` / `fleet up` in a terminal: everything on this machine until Ctrl-C. */
up().then(
  (f) => {
    const stop = () => {
      process.stdout.write('stopping…\n');
      void f.stop().then(() => process.exit(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  },
  (err: Error) => {
    process.stderr.write(`fleet: ${err.message}\n`);
    process.exit(1);
  },
);
